#!/usr/bin/env bash
# Sextant's benchmarks, with their peers measured in the same run on the same inputs.
# Prints JSON lines and a summary; nothing here is a test and nothing fails on a timing.
#
#   bench/run.sh [embed] [ingest] [query] [query1m] [gen] [ask] [act]   (default: embed ingest query)
#
# embed   : MiniLM throughput, 128- and 256-token chunks: Sextant (candle) vs sentence-transformers
#           (PyTorch CPU, venv from bench/setup-peer.sh), 2 threads each.
# ingest  : Factbook + SOTU end to end: MB/s, chunks/s, time to BM25-searchable, time to vectors.
# query   : p50/p99 per mode and reader (unrestricted, cleared: the access filter) over 100k
#           synthetic chunks; query1m: the same over 1M (vectors shaped like embeddings: see
#           docs/model-speed.md).
# ask     : answer latency (p50/p90/p99 of `ask` on the demo store over 20 Factbook capital
#           questions, bench/ask-capitals.tsv) with right/abstained/wrong against the gold answers,
#           at three evidence budgets (reader candidates 6, 3, 10: the prompt-budget study), idle
#           and (the first budget) while the background embedder runs, per chat model.
# gen     : chat models: prompt-processing and generation tokens/s, time to first token and peak
#           RSS, Sextant vs llama.cpp (llama-cpp-python built from source by
#           bench/setup-llamacpp.sh) on the same GGUF files, 2 threads each, one model at a time,
#           with 512- and 2,000-token prompts.
# act     : text-to-API against a real pygeoapi (scripts/pygeoapi): request -> executed read-only
#           call and -> relayed answer, p50/p99, per chat model; grammar mask ms/token against
#           decode ms/token (the unconstrained cost of the same tokens).
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
    gen)
      PY="$(bench/setup-llamacpp.sh | tail -n1)"
      : > "$OUT/gen.jsonl"
      for model in smollm2-135m-instruct qwen2.5-coder-0.5b-instruct; do
        for n in 512 2000; do
          RAYON_NUM_THREADS=$THREADS $B gen --model "$model" --prompt-tokens "$n" --gen-tokens 128 --repeats 3 \
            | tail -n1 | sed "s/^{/{\"id\": \"$model\", /" | tee -a "$OUT/gen.jsonl"
          "$PY" bench/llama_peer.py --model "$SEXTANT_MODELS/$model/model.gguf" --threads "$THREADS" \
            --prompt-tokens "$n" --gen-tokens 128 --repeats 3 \
            | sed "s/^{/{\"id\": \"$model\", /" | tee -a "$OUT/gen.jsonl"
        done
      done
      python3 - "$OUT/gen.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for i in range(0, len(rows), 2):
    a, b = rows[i], rows[i + 1]
    print(f"{a['id']:<28} prompt {a['prompt_tokens']:>5}: "
          f"prefill {a['prefill_tok_s']:7.1f} vs llama.cpp {b['prefill_tok_s']:7.1f} tok/s ({a['prefill_tok_s']/b['prefill_tok_s']:.2f}x)   "
          f"generate {a['gen_tok_s']:6.1f} vs {b['gen_tok_s']:6.1f} tok/s ({a['gen_tok_s']/b['gen_tok_s']:.2f}x)   "
          f"TTFT {a['ttft_ms']/1e3:5.2f} s vs {b['ttft_ms']/1e3:5.2f} s   peak RSS {a['peak_rss_mb']:.0f} vs {b['peak_rss_mb']:.0f} MB")
PY
      ;;
    ask)
      # Answer latency on the demo store with every vector in place (the `ingest` benchmark's
      # store, or $ASK_DATA), idle and while the background embedder catches up on its newest
      # 4,000 chunks, per model.
      DATA="${ASK_DATA:-$OUT/ingest-data}"
      if [[ ! -d "$DATA" ]]; then
        $B ingest --data-dir "$DATA" "$DEMO/factbook" "$DEMO/sotu" >/dev/null
      fi
      : > "$OUT/ask.jsonl"
      for model in ${ASK_MODELS:-smollm2-135m-instruct qwen2.5-coder-0.5b-instruct}; do
        RAYON_NUM_THREADS=$THREADS $B ask --data-dir "$DATA" --questions bench/ask-capitals.tsv \
          --model "$model" --pending 4000 --candidates 6,3,10 | tee -a "$OUT/ask.jsonl"
      done
      python3 - "$OUT/ask.jsonl" <<'PY'
import json, sys
for j in map(json.loads, open(sys.argv[1])):
    print(f"ask {j['model']:<28} candidates {j['reader_candidates']:>2} (prompt {j['mean_prompt_tokens']:5.0f} tokens): "
          f"p50 {j['idle_p50_s']:5.2f} s  p99 {j['idle_p99_s']:5.2f} s  "
          f"right {j['right']}/{j['questions']}  abstained {j['abstained']}  wrong {j['wrong']}"
          + (f"   beside the embedder p50 {j['busy_p50_s']:5.2f} s" if 'busy_p50_s' in j else ""))
PY
      ;;
    act)
      scripts/fetch-data.sh geo adsb >/dev/null
      GEO="$OUT/pygeoapi"
      URL=$(scripts/pygeoapi/start.sh "${ACT_PORT:-5097}" "$GEO" | tail -n 1)
      mkdir -p "$OUT/connectors"
      cat > "$OUT/connectors/geo.toml" <<EOF
spec = "$GEO/openapi.json"
base_url = "$URL"
marking = "UNCLASSIFIED"
allow = ["getAircraftFeatures", "getCitiesFeatures", "getReportsFeatures"]
hide = ["f", "lang", "crs", "bbox-crs", "vendorSpecificParameters", "skipGeometry", "offset", "properties"]
EOF
      for model in ${ACT_MODELS:-qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct}; do
        RAYON_NUM_THREADS=$THREADS $B act --connectors "$OUT/connectors" --requests bench/act-requests.txt \
          --model "$model" --geo-dir "${SEXTANT_CACHE:-$HOME/.cache/sextant}/data/geo" | tee -a "$OUT/act.jsonl"
      done
      scripts/pygeoapi/stop.sh "$GEO" >/dev/null
      ;;
    *) echo "unknown benchmark $t" >&2; exit 2 ;;
  esac
done
