#!/usr/bin/env python3
"""Turns the hand-written dev sets into `sextant eval qa` / `eval retrieval` inputs.

    bench/dev/build_sets.py CACHE_DATA_DIR OUT_DIR

CACHE_DATA_DIR is $SEXTANT_CACHE/data (scripts/fetch-data.sh factbook sotu fills it).

* rc.{dev,holdout}.jsonl (reading comprehension over Factbook "Background" passages) ->
  rc.corpus.jsonl (every country's Background passage: the questions' passages and ~200
  distractors) and rc.{split}.{queries,answers}.jsonl, rc.{split}.qrels.tsv.
* sotu.{dev,holdout}.jsonl (questions on State of the Union addresses) ->
  sotu.{split}.{queries,answers}.jsonl and qrels, for a store that holds the addresses
  (`eval qa` without --corpus runs over the --data-dir store; docs are matched by source name).
* factbook questions: bench/dev/factbook_qa.py writes those directly.

answers lines: {"_id", "answers": [...], "docs": [...], "kind"}; [] = unanswerable.
Standard library only.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
from factbook_to_md import pieces, profile_name  # noqa: E402


def write(out: Path, name: str, split: str, rows: list[dict]) -> None:
    with open(out / f"{name}.{split}.queries.jsonl", "w") as fq, \
         open(out / f"{name}.{split}.answers.jsonl", "w") as fa, \
         open(out / f"{name}.{split}.qrels.tsv", "w") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for r in rows:
            fq.write(json.dumps({"_id": r["id"], "text": r["question"]}) + "\n")
            fa.write(json.dumps({"_id": r["id"], "answers": r["answers"], "docs": r["docs"], "kind": r["kind"]}) + "\n")
            for d in r["docs"]:
                fr.write(f"{r['id']}\t{d}\t1\n")
    print(f"{name}.{split}: {len(rows)} questions")


def main(argv: list[str]) -> int:
    data, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    fb = data / "factbook" / "package"
    corpus = []
    for p in sorted(fb.glob("*/*.json")):
        if len(p.stem) != 2:
            continue
        prof = json.load(open(p, encoding="utf-8"))
        bg = ((prof.get("Introduction") or {}).get("Background") or {}).get("text")
        name = profile_name(p.stem, prof)
        if isinstance(bg, str) and name and pieces(bg):
            corpus.append({"_id": p.stem, "title": name, "text": "\n\n".join(pieces(bg))})
    with open(out / "rc.corpus.jsonl", "w") as f:
        for c in corpus:
            f.write(json.dumps(c) + "\n")
    print(f"rc.corpus: {len(corpus)} passages")
    # Whole-document corpora for retrieval runs (`eval retrieval` and bench/retrieval_peer.py).
    demo = data / "demo"
    with open(out / "factbook.corpus.jsonl", "w") as f:
        for p in sorted((demo / "factbook").glob("*.md")):
            text = p.read_text(encoding="utf-8")
            title = text.split("\n", 1)[0].lstrip("# ").strip()
            f.write(json.dumps({"_id": p.name, "title": title, "text": text}) + "\n")
    with open(out / "sotu.corpus.jsonl", "w") as f:
        for p in sorted((demo / "sotu").glob("*.txt")):
            f.write(json.dumps({"_id": p.name, "title": p.stem, "text": p.read_text(encoding="utf-8")}) + "\n")
    # The demo's documents together (what `eval retrieval` without --corpus sees in a demo
    # store), for the baselines.
    with open(out / "demo.corpus.jsonl", "w") as f:
        for name in ("factbook", "sotu"):
            f.write(open(out / f"{name}.corpus.jsonl").read())
    for split in ("dev", "holdout"):
        src = HERE / f"rc.{split}.jsonl"
        if src.exists():
            rows = [json.loads(l) for l in open(src) if l.strip()]
            for r in rows:
                r["docs"] = [r["gec"]]
            write(out, "rc", split, rows)
        src = HERE / f"sotu.{split}.jsonl"
        if src.exists():
            rows = [json.loads(l) for l in open(src) if l.strip()]
            for r in rows:
                r["docs"] = [r["file"]]
            write(out, "sotu", split, rows)
    # Quick subsets for tuning loops: the Factbook dev set's first 4 questions of each kind,
    # 20 answerable + 20 unanswerable reading-comprehension questions, 3 per SOTU kind.
    def subset(name, out_name, pick):
        answers = out / f"{name}.answers.jsonl"
        if not answers.exists():
            return
        ans = [json.loads(l) for l in open(answers)]
        qs = {json.loads(l)["_id"]: json.loads(l) for l in open(out / f"{name}.queries.jsonl")}
        keep = pick(ans)
        with open(out / f"{out_name}.answers.jsonl", "w") as fa, open(out / f"{out_name}.queries.jsonl", "w") as fq:
            for a in keep:
                fa.write(json.dumps(a) + "\n")
                fq.write(json.dumps(qs[a["_id"]]) + "\n")

    def per_kind(n):
        def pick(ans):
            seen, keep = {}, []
            for a in ans:
                k = a.get("kind", "")
                if seen.get(k, 0) < n:
                    seen[k] = seen.get(k, 0) + 1
                    keep.append(a)
            return keep
        return pick

    subset("factbook.dev", "factbook.dev-quick", per_kind(4))
    subset("sotu.dev", "sotu.dev-quick", per_kind(3))
    subset("rc.dev", "rc.dev-40", lambda ans: [a for a in ans if a["answers"]][::3][:20] + [a for a in ans if not a["answers"]][::3][:20])
    # Held-out subsets of the same shape, run once per decision (never tuned on).
    subset("factbook.holdout", "factbook.holdout-quick", per_kind(3))
    subset("sotu.holdout", "sotu.holdout-quick", per_kind(4))
    subset("rc.holdout", "rc.holdout-40", lambda ans: [a for a in ans if a["answers"]][::2][:20] + [a for a in ans if not a["answers"]][::2][:20])

    # Retrieval judgements: answerable questions only (an unanswerable one has no relevant
    # document).
    for name in ("factbook", "rc", "sotu"):
        for split in ("dev", "holdout"):
            answers = out / f"{name}.{split}.answers.jsonl"
            if not answers.exists():
                continue
            with open(out / f"{name}.{split}.retrieval.qrels.tsv", "w") as fr:
                fr.write("query-id\tcorpus-id\tscore\n")
                for line in open(answers):
                    a = json.loads(line)
                    if a["answers"] and not a.get("kind", "").startswith("compare"):
                        for d in a["docs"]:
                            fr.write(f"{a['_id']}\t{d}\t1\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
