#!/usr/bin/env bash
# Retrieval against the plain baselines a user could assemble, on the same documents and
# questions in the same run: bm25s (lowercase, English stop words, Snowball stemmer, k1 1.5,
# b 0.75, whole documents) and RRF(k=60) of that BM25 with MiniLM-L6 (sentence-transformers,
# whole documents truncated at 256 word pieces), versus Sextant's bm25 / dense / hybrid (chunks;
# a document ranks by its best chunk). Prints nDCG@10 per set and method.
#
#   bench/retrieval.sh [dev|holdout]...        (default: dev holdout)
#
# Sets (bench/dev, built by scripts/fetch-data.sh devsets): Factbook questions and State of the
# Union questions over the demo documents (Factbook + SOTU, one store: $RET_DATA, default
# bench/out/demo, ingested once), and reading-comprehension questions over the 261 Factbook
# "Background" passages (a corpus indexed per run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SEXTANT_CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
export SEXTANT_MODELS="${SEXTANT_MODELS:-$PWD/models}"
splits=("$@"); [[ ${#splits[@]} -gt 0 ]] || splits=(dev holdout)
OUT=bench/dev/out
SEXTANT="${SEXTANT_BIN:-target/release/sextant}"
[[ -x "$SEXTANT" ]] || cargo build --release --locked -p sextant
scripts/fetch-data.sh devsets >/dev/null
DATA="${RET_DATA:-bench/out/demo}"
if [[ ! -d "$DATA" ]]; then
  "$SEXTANT" --data-dir "$DATA" ingest "$SEXTANT_CACHE/data/demo/factbook" "$SEXTANT_CACHE/data/demo/sotu" >/dev/null
fi
PY="$(bench/setup-peer.sh)"
"$PY" -m pip install -q --disable-pip-version-check bm25s==0.3.16 PyStemmer==3.1.0 >&2
ours() {  # label, then eval retrieval arguments
  local label="$1"; shift
  "$SEXTANT" "$@" --mode all --fusion-sweep --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for m, v in sorted(d["modes"].items()):
    print(json.dumps({"set": sys.argv[1], "method": "sextant " + m, "ndcg@10": round(v["ndcg@10"], 4), "recall@100": round(v["recall@100"], 4)}))' "$label"
}
peer() {  # label, corpus, queries, qrels
  "$PY" bench/retrieval_peer.py --corpus "$2" --queries "$3" --qrels "$4" \
    --model-dir "$SEXTANT_MODELS/all-minilm-l6-v2" --threads 2 | sed "s/^{/{\"set\": \"$1\", /"
}
for split in "${splits[@]}"; do
  for set in factbook sotu; do
    q="$OUT/$set.$split.queries.jsonl"; r="$OUT/$set.$split.retrieval.qrels.tsv"
    peer "$set.$split" "$OUT/demo.corpus.jsonl" "$q" "$r"
    ours "$set.$split" --data-dir "$DATA" eval retrieval --queries "$q" --qrels "$r"
  done
  q="$OUT/rc.$split.queries.jsonl"; r="$OUT/rc.$split.retrieval.qrels.tsv"
  peer "rc.$split" "$OUT/rc.corpus.jsonl" "$q" "$r"
  ours "rc.$split" eval retrieval --corpus "$OUT/rc.corpus.jsonl" --queries "$q" --qrels "$r"
done | tee "$OUT/retrieval.jsonl"
