#!/usr/bin/env python3
"""Build a BEIR-format retrieval set from BIG-bench contextual_parametric_knowledge_conflicts.

task.json (bigbench==1.0.0 sdist, bigbench/benchmark_tasks/contextual_parametric_knowledge_conflicts/)
holds 17,528 examples of the form::

    {"input": "\\nQuestion: <NQ question>\\nContext: <passage, answer entity swapped>",
     "target": "<swapped answer, the one the context supports>",
     "target_scores": {"<swapped answer>": 1, "<original NQ answer>": 0}}

``input`` is split at the first "\\nContext:" line: the part after "Question:" is
the query, the rest is the passage. Every passage is unique (one per example),
so corpus id == example index. ``target`` is the answer (it always occurs in
the context; one example has target_scores {target: 0}, target is still used).

Output (BEIR layout) in OUT::

    corpus.jsonl   {"_id": "d<idx>", "title": "", "text": <context>}
    queries.jsonl  {"_id": "q<idx>", "text": <question>}
    qrels.tsv      query-id<TAB>corpus-id<TAB>score   (header line, score 1 = own context)
    answers.jsonl  {"_id": "q<idx>", "answers": [<target>]}

Subset (default): a deterministic sample of --limit queries (seeded shuffle of
the example indices) plus their contexts, and --distractors contexts from other
examples (never one whose question duplicates a selected query). --limit 0 = all.

Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from pathlib import Path

INPUT_RE = re.compile(r"^\s*Question:\s*(?P<q>.*?)\s*\nContext:\s*(?P<c>.*?)\s*$", re.S)
_WS = re.compile(r"\s+")


def clean(s: str) -> str:
    return _WS.sub(" ", s).strip()


def load_examples(task_json: Path) -> list[dict]:
    with task_json.open(encoding="utf-8") as f:
        task = json.load(f)
    out = []
    for idx, ex in enumerate(task["examples"]):
        m = INPUT_RE.match(ex["input"])
        if not m:
            raise SystemExit(f"bigbench_to_beir: example {idx}: input not 'Question: ...\\nContext: ...': {ex['input'][:120]!r}")
        out.append({"idx": idx, "question": clean(m["q"]), "context": m["c"].strip(), "answer": ex["target"]})
    return out


def write_jsonl(path: Path, rows) -> int:
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task_json", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--limit", type=int, default=2000, help="number of queries (0 = all 17,528; default 2000)")
    ap.add_argument("--distractors", type=int, default=None,
                    help="extra contexts without a query (default: 1.5 x limit, i.e. 3000; 0 = none)")
    ap.add_argument("--seed", type=int, default=20240601, help="sampling seed (default fixed)")
    args = ap.parse_args(argv)

    examples = load_examples(args.task_json)
    order = list(range(len(examples)))
    random.Random(args.seed).shuffle(order)

    n_q = len(order) if args.limit <= 0 else min(args.limit, len(order))
    chosen = sorted(order[:n_q])
    n_d = args.distractors if args.distractors is not None else (n_q * 3) // 2
    chosen_questions = {examples[i]["question"].lower() for i in chosen}
    pool = [i for i in order[n_q:] if examples[i]["question"].lower() not in chosen_questions]
    distract = sorted(pool[: max(0, n_d)])

    corpus_idx = sorted(set(chosen) | set(distract))
    args.out.mkdir(parents=True, exist_ok=True)
    n_docs = write_jsonl(args.out / "corpus.jsonl",
                         ({"_id": f"d{i}", "title": "", "text": examples[i]["context"]} for i in corpus_idx))
    n_queries = write_jsonl(args.out / "queries.jsonl",
                            ({"_id": f"q{i}", "text": examples[i]["question"]} for i in chosen))
    write_jsonl(args.out / "answers.jsonl",
                ({"_id": f"q{i}", "answers": [examples[i]["answer"]]} for i in chosen))
    qrels = args.out / "qrels.tsv"
    tmp = qrels.with_name("qrels.tsv.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for i in chosen:
            f.write(f"q{i}\td{i}\t1\n")
    os.replace(tmp, qrels)

    print(f"cpkc: {len(examples)} examples in task.json; wrote {n_queries} queries, "
          f"{n_docs} corpus docs ({n_queries} relevant + {len(distract)} distractors), "
          f"{n_queries} qrels, {n_queries} answers -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
