#!/usr/bin/env python3
"""Build an abstention QA set from a BIG-bench task (known_unknowns or sufficient_information).

    bigbench_abstain.py TASK_JSON OUT

TASK_JSON comes from the bigbench==1.0.0 sdist (bigbench/benchmark_tasks/<task>/task.json);
the task is picked by the file's "name" field. Two tasks are supported:

known_unknowns (46 examples, multiple choice, no context)::

    {"input": "When was Abraham Lincoln born?",
     "target_scores": {"February 12, 1809": 1, "Unknown": 0}}

  The choice(s) scored 1 are the gold answer; when that is "Unknown" the question is
  unanswerable (the other choice is a made-up decoy and is not written). The corpus is
  empty: these questions are meant to be asked against the Factbook demo corpus.

sufficient_information (39 examples, exact match, context inside the input)::

    {"input": "Jamal is five years old. How old is Jamal?", "target": "Five"}

  The target "I do not know" marks an unanswerable question. The input is split before
  its last sentence: the leading sentences become the corpus document "si-<n>", the final
  question the query. An input with no separate context (a single question sentence) is
  written whole as both the document and the query, and reported on stderr.

Output in OUT::

    corpus.jsonl   {"_id": "si-<n>", "title": "", "text": <context>}   (empty for known_unknowns)
    queries.jsonl  {"_id": "<ku|si>-q<n>", "text": <question>}
    answers.jsonl  {"_id": "<ku|si>-q<n>", "answers": [...]}   ([] = unanswerable: abstain)
    qrels.tsv      query-id<TAB>corpus-id<TAB>score   (sufficient_information only: own context)

<n> is the example index in task.json. Accepted answers are the gold strings; a number
written as a word or as digits ("Five", "6") also accepts the other form ("5", "six").
Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from bigbench_to_beir import clean, write_jsonl  # same directory: run as scripts/bigbench_abstain.py

# gold strings that mean "not answerable" (normalized: lower case, no punctuation)
UNKNOWN = {"unknown", "i do not know", "i dont know", "not known", "cannot be determined",
           "cant be determined", "not enough information", "insufficient information", "unanswerable"}

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                "eighteen", "nineteen", "twenty"]
TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
WORD_TO_NUM = {w: i for i, w in enumerate(NUMBER_WORDS)} | TENS
NUM_TO_WORD = {v: k for k, v in WORD_TO_NUM.items()}

# "<context sentences>. <final question>?" -- the question is the last sentence
SPLIT_RE = re.compile(r"^(?P<c>.*[.!])\s+(?P<q>[^.!?]+\?)\s*$", re.S)


def norm(s: str) -> str:
    return clean(re.sub(r"[^\w\s]", "", s.lower().replace("\u2019", "'").replace("'", "")))


def is_unknown(s: str) -> bool:
    return norm(s) in UNKNOWN


def with_number_forms(answers: list[str]) -> list[str]:
    """Add the digit / word twin of an answer that is a bare number ("Five" -> "5")."""
    out = list(answers)
    for a in answers:
        key = a.strip().lower()
        twin = None
        if key in WORD_TO_NUM:
            twin = str(WORD_TO_NUM[key])
        elif key.isdigit() and int(key) in NUM_TO_WORD:
            twin = NUM_TO_WORD[int(key)]
        if twin is not None and twin.lower() not in {x.lower() for x in out}:
            out.append(twin)
    return out


def gold(ex: dict, idx: int) -> list[str]:
    """Gold answer strings of an example: the target(s), or the choices scored highest."""
    if "target_scores" in ex:
        scores = ex["target_scores"]
        best = max(scores.values())
        if best <= 0:
            raise SystemExit(f"bigbench_abstain: example {idx}: no positive target_scores: {scores}")
        return [k for k, v in scores.items() if v == best]
    target = ex.get("target")
    if isinstance(target, str):
        return [target]
    if isinstance(target, list) and target and all(isinstance(t, str) for t in target):
        return target
    raise SystemExit(f"bigbench_abstain: example {idx}: no usable target: {ex!r}")


def answers_of(ex: dict, idx: int) -> list[str]:
    """[] when the gold answer is "unknown"; else the accepted answers."""
    g = gold(ex, idx)
    known = [a for a in g if not is_unknown(a)]
    if len(known) != len(g) and known:
        raise SystemExit(f"bigbench_abstain: example {idx}: gold mixes unknown and answers: {g}")
    return with_number_forms(known)


def convert(task: dict) -> tuple[list[dict], list[dict], list[dict], list[tuple[str, str]]]:
    name = task.get("name")
    corpus, queries, answers, qrels = [], [], [], []
    if name == "known_unknowns":
        for idx, ex in enumerate(task["examples"]):
            qid = f"ku-q{idx}"
            queries.append({"_id": qid, "text": clean(ex["input"])})
            answers.append({"_id": qid, "answers": answers_of(ex, idx)})
    elif name == "sufficient_information":
        whole = []
        for idx, ex in enumerate(task["examples"]):
            qid, did = f"si-q{idx}", f"si-{idx}"
            text = clean(ex["input"])
            m = SPLIT_RE.match(text)
            if m:
                context, question = m["c"].strip(), m["q"].strip()
            else:  # not separable: the whole input is both the document and the query
                context = question = text
                whole.append(idx)
            corpus.append({"_id": did, "title": "", "text": context})
            queries.append({"_id": qid, "text": question})
            answers.append({"_id": qid, "answers": answers_of(ex, idx)})
            qrels.append((qid, did))
        if whole:
            print(f"sufficient_information: {len(whole)} input(s) without a separate context, "
                  f"written whole as document and query: examples {whole}", file=sys.stderr)
    else:
        raise SystemExit(f"bigbench_abstain: unsupported task {name!r} "
                         "(known: known_unknowns, sufficient_information)")
    return corpus, queries, answers, qrels


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task_json", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)

    with args.task_json.open(encoding="utf-8") as f:
        task = json.load(f)
    corpus, queries, answers, qrels = convert(task)

    args.out.mkdir(parents=True, exist_ok=True)
    n_docs = write_jsonl(args.out / "corpus.jsonl", corpus)
    n_q = write_jsonl(args.out / "queries.jsonl", queries)
    write_jsonl(args.out / "answers.jsonl", answers)
    if qrels:
        tmp = args.out / "qrels.tsv.tmp"
        with tmp.open("w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for qid, did in qrels:
                f.write(f"{qid}\t{did}\t1\n")
        os.replace(tmp, args.out / "qrels.tsv")

    n_unans = sum(1 for a in answers if not a["answers"])
    print(f"{task['name']}: {n_q} queries ({n_q - n_unans} answerable, {n_unans} unanswerable), "
          f"{n_docs} corpus docs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
