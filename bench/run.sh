#!/usr/bin/env bash
# Sextant's benchmarks, with their peers measured in the same run on the same inputs.
# Prints JSON lines and a summary; nothing here is a test and nothing fails on a timing.
#
#   bench/run.sh [embed] [ingest] [query] [query1m]     (default: embed ingest query)
#
# embed   : MiniLM throughput, 128- and 256-token chunks: Sextant (candle) vs sentence-transformers
#           (PyTorch CPU, venv from bench/setup-peer.sh), 2 threads each.
# ingest  : Factbook + SOTU end to end: MB/s, chunks/s, time to BM25-searchable, time to vectors.
# query   : p50/p99 per mode over 100k chunks; query1m: the same over 1M chunks (random vectors).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SEXTANT_CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
export SEXTANT_MODELS="${SEXTANT_MODELS:-$PWD/models}"
OUT="${BENCH_OUT:-$PWD/bench/out}"
THREADS="${BENCH_THREADS:-2}"
mkdir -p "$OUT"
targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=(embed ingest query)

cargo build --release --locked -p sextant-bench -p sextant
target/release/sextant models fetch >/dev/null
scripts/fetch-data.sh factbook sotu >/dev/null
B=target/release/sextant-bench
DEMO="$SEXTANT_CACHE/data/demo"

for t in "${targets[@]}"; do
  case "$t" in
    embed)
      PY="$(bench/setup-peer.sh)"
      RAYON_NUM_THREADS=$THREADS $B embed --source "$DEMO/sotu" --n 512 --out "$OUT" | tee "$OUT/embed-sextant.jsonl"
      : > "$OUT/embed-peer.jsonl"
      for n in 128 256; do
        "$PY" bench/st_peer.py --model-dir "$SEXTANT_MODELS/all-minilm-l6-v2" --texts "$OUT/texts-$n.jsonl" \
          --batch-size 32 --threads "$THREADS" | sed "s/^{/{\"tokens\": $n, /" | tee -a "$OUT/embed-peer.jsonl"
      done
      python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ours = {j["tokens"]: j for j in map(json.loads, open(f"{out}/embed-sextant.jsonl"))}
peer = {j["tokens"]: j for j in map(json.loads, open(f"{out}/embed-peer.jsonl"))}
for n in sorted(ours):
    a, b = ours[n]["chunks_per_s"], peer[n]["chunks_per_s"]
    print(f"embed {n:>3} tokens: sextant {a:8.1f} chunks/s   sentence-transformers {b:8.1f} chunks/s   ratio {a/b:5.2f}x")
PY
      ;;
    ingest)
      rm -rf "$OUT/ingest-data"
      $B ingest --data-dir "$OUT/ingest-data" "$DEMO/factbook" "$DEMO/sotu" | tee "$OUT/ingest.jsonl"
      ;;
    query)
      $B query --source "$DEMO/factbook" --chunks 100000 --data-dir "$OUT/query-100k" | tee "$OUT/query-100k.jsonl"
      ;;
    query1m)
      $B query --source "$DEMO/factbook" --chunks 1000000 --data-dir "$OUT/query-1m" | tee "$OUT/query-1m.jsonl"
      ;;
    *) echo "unknown benchmark $t" >&2; exit 2 ;;
  esac
done
