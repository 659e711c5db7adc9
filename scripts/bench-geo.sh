#!/usr/bin/env bash
# The spatial index against PostGIS: starts a throwaway PostgreSQL 15 + PostGIS 3 cluster on
# loopback in a temporary directory, runs `sextant-bench geo` (release) against it, stops the
# cluster and deletes it. Prints the bench's JSON lines (also written to $BENCH_OUT/geo.jsonl).
#
#   scripts/bench-geo.sh [sextant-bench geo flags...]     (default: --points 1000000 --queries 200)
#
# Installs postgresql-15-postgis-3 with apt-get when it is missing (needs root). initdb refuses
# to run as root, so when started by root the cluster runs as the `postgres` user (or `nobody`).
# The cluster is tuned for a throwaway benchmark: fsync off, unlogged table, shared_buffers 2GB,
# jit off, no parallel workers (our side runs on one thread too; see docs/geo-bench.md).
# Env: PG_BIN (default /usr/lib/postgresql/15/bin), PG_PORT (default 54329), BENCH_OUT (default
# bench/out), KEEP_PG=1 keeps the cluster's directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${PG_PORT:-54329}"
OUT="${BENCH_OUT:-$PWD/bench/out}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
log() { printf '[bench-geo] %s\n' "$*" >&2; }
die() { printf '[bench-geo] error: %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$PG_BIN/initdb" || ! -f /usr/share/postgresql/15/extension/postgis.control ]]; then
  [[ $EUID -eq 0 ]] || die "PostgreSQL 15 + PostGIS missing; run as root or: apt-get install -y postgresql-15-postgis-3"
  log "installing postgresql-15-postgis-3"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
fi

# As root, run the server as an unprivileged user.
as_user=()
if [[ $EUID -eq 0 ]]; then
  run_user=postgres
  id -u "$run_user" >/dev/null 2>&1 || run_user=nobody
  as_user=(runuser -u "$run_user" --)
fi

PGDIR="$(mktemp -d /tmp/sextant-geo-pg.XXXXXX)"
chmod 755 "$PGDIR"
[[ $EUID -ne 0 ]] || chown "$run_user" "$PGDIR"
stop() {
  if [[ -f "$PGDIR/data/postmaster.pid" ]]; then
    "${as_user[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [[ "${KEEP_PG:-0}" == 1 ]]; then log "kept $PGDIR"; else rm -rf -- "$PGDIR"; fi
}
trap stop EXIT

log "initdb in $PGDIR"
"${as_user[@]}" "$PG_BIN/initdb" -D "$PGDIR/data" -U bench --auth=trust -E UTF8 --no-locale >/dev/null
"${as_user[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w start -o "\
  -c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PGDIR \
  -c shared_buffers=2GB -c work_mem=64MB -c maintenance_work_mem=1GB -c max_wal_size=8GB \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c jit=off \
  -c max_parallel_workers_per_gather=0" >/dev/null \
  || { cat "$PGDIR/server.log" >&2; die "PostgreSQL did not start"; }
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U bench bench

cargo build --release -p sextant-bench
mkdir -p "$OUT"
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(--points 1000000 --queries 200)
log "sextant-bench geo ${args[*]}"
"$TARGET/release/sextant-bench" geo --pg "host=127.0.0.1 port=$PG_PORT user=bench dbname=bench" \
  "${args[@]}" | tee "$OUT/geo.jsonl"
