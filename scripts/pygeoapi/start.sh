#!/usr/bin/env bash
# Start a real pygeoapi (OGC API - Features) server in the background, as a "connected system" for
# the text-to-API tests, CI and the demo.
#
#   scripts/pygeoapi/start.sh PORT DATADIR     # prints http://127.0.0.1:PORT on the last stdout line
#   scripts/pygeoapi/stop.sh DATADIR
#
# Collections (built by build.py from $SEXTANT_CACHE/data, see `scripts/fetch-data.sh geo adsb`; build.py
# also lists the known limits of pygeoapi's TinyDB provider):
#   aircraft  ADS-B positions, read-only (bbox, limit, offset, datetime on timestamp, sortby, icao24=...)
#   cities    GeoNames cities15000, read-only (bbox, limit, offset, sortby=-population, countrycode=...)
#   reports   observation reports, editable: POST /collections/reports/items, PUT/DELETE .../items/{id};
#             reset to its 5 seed features on every start
# DATADIR gets: config.yml, the TinyDB files, openapi.json (pygeoapi's OpenAPI 3.0 document, as the
# server also serves at /openapi?f=json), server.log, pid. If DATADIR/pid names a live server it is
# stopped first. Runs the Flask dev server (threaded, no reloader) bound to 127.0.0.1 only. Needs no
# network once scripts/pygeoapi/setup.sh has built the venv (start.sh runs setup.sh, which then only
# checks it). Env: SEXTANT_CACHE (default ~/.cache/sextant), PYGEOAPI_PY (a python with pygeoapi,
# skips setup.sh), PYGEOAPI_START_TIMEOUT (seconds to wait for the server, default 30).
set -euo pipefail

log() { printf '[pygeoapi-start] %s\n' "$*" >&2; }
die() { printf '[pygeoapi-start] error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: $0 PORT DATADIR"
PORT="$1"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number: $PORT"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
DATA="$CACHE/data"
URL="http://127.0.0.1:$PORT"
[[ -f "$DATA/adsb/adsb.geojson" && -f "$DATA/geo/cities15000.csv" ]] \
  || die "missing data under $DATA: run scripts/fetch-data.sh geo adsb"

mkdir -p "$2"
DATADIR="$(cd "$2" && pwd)"
"$HERE/stop.sh" "$DATADIR" >&2  # a previous server of this DATADIR, if any

PY="${PYGEOAPI_PY:-$("$HERE/setup.sh" | tail -n1)}"
BIN="$(dirname "$PY")"
curl -s -m 2 -o /dev/null "$URL/" && die "something already answers on $URL"

"$PY" "$HERE/build.py" "$PORT" "$DATADIR" "$DATA"
export PYGEOAPI_CONFIG="$DATADIR/config.yml" PYGEOAPI_OPENAPI="$DATADIR/openapi.json"
"$BIN/pygeoapi" openapi generate "$PYGEOAPI_CONFIG" --format json --output-file "$PYGEOAPI_OPENAPI" >&2

# `pygeoapi serve` would run Flask with debug=True (a reloader parent plus a child): run the same app
# through the flask CLI instead, so that the one process we start is the server.
nohup "$PY" -m flask --app pygeoapi.flask_app run --host 127.0.0.1 --port "$PORT" --no-reload \
  --no-debugger >"$DATADIR/server.log" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$DATADIR/pid"

deadline=$((SECONDS + ${PYGEOAPI_START_TIMEOUT:-30}))
until curl -sf -m 2 -o /dev/null "$URL/collections?f=json"; do
  if ! kill -0 "$PID" 2>/dev/null || ((SECONDS >= deadline)); then
    tail -n 20 "$DATADIR/server.log" >&2 || true
    "$HERE/stop.sh" "$DATADIR" >&2
    die "pygeoapi did not come up on $URL (log: $DATADIR/server.log)"
  fi
  sleep 0.1
done
log "pygeoapi $URL up (pid $PID, data $DATADIR)"
echo "$URL"
