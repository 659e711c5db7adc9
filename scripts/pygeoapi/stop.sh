#!/usr/bin/env bash
# Stop the pygeoapi server that scripts/pygeoapi/start.sh started for DATADIR (its pid is in
# DATADIR/pid); no-op when none runs. The data files stay.
#
#   scripts/pygeoapi/stop.sh DATADIR
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 DATADIR" >&2; exit 1; }
PIDFILE="$1/pid"
[[ -f "$PIDFILE" ]] || exit 0
PID="$(cat "$PIDFILE")"
# only a live process that is our flask/pygeoapi server (pids get reused; zombies have no cmdline)
alive() { grep -qa pygeoapi "/proc/$PID/cmdline" 2>/dev/null; }
if [[ "$PID" =~ ^[0-9]+$ ]] && alive; then
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 50); do alive || break; sleep 0.1; done
  alive && kill -9 "$PID" 2>/dev/null || true
  echo "[pygeoapi-stop] stopped pid $PID" >&2
fi
rm -f "$PIDFILE"
