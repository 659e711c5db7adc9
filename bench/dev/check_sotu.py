#!/usr/bin/env python3
"""Sanity check for the hand-written SOTU evaluation sets.

Checks, for sotu.dev.jsonl and sotu.holdout.jsonl:
  * every line is a JSON object with id, file, question, answers, kind;
  * ids are unique (across both files);
  * kind is one of number, name, date, place, phrase, unanswerable;
  * unanswerable rows have answers == [], answerable rows have 1-3 answers;
  * the referenced address file exists in the corpus;
  * every gold answer is an exact, case-sensitive substring of its address
    after collapsing runs of whitespace to a single space;
  * the two files cover disjoint sets of addresses.

Usage: python3 check_sotu.py [CORPUS_DIR]
(default corpus: ~/.cache/sextant/data/demo/sotu, or $SOTU_DIR)
Standard library only.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = ["sotu.dev.jsonl", "sotu.holdout.jsonl"]
KINDS = {"number", "name", "date", "place", "phrase", "unanswerable"}


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def main():
    corpus = (sys.argv[1] if len(sys.argv) > 1 else
              os.environ.get("SOTU_DIR", os.path.expanduser("~/.cache/sextant/data/demo/sotu")))
    errors = []
    seen_ids = set()
    files_by_split = {}
    cache = {}
    for name in FILES:
        path = os.path.join(HERE, name)
        split_files = set()
        counts = {}
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                where = f"{name}:{lineno}"
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    errors.append(f"{where}: bad JSON ({e})")
                    continue
                missing = {"id", "file", "question", "answers", "kind"} - set(row)
                if missing:
                    errors.append(f"{where}: missing keys {sorted(missing)}")
                    continue
                rid, fname, kind, answers = row["id"], row["file"], row["kind"], row["answers"]
                if rid in seen_ids:
                    errors.append(f"{where}: duplicate id {rid}")
                seen_ids.add(rid)
                if kind not in KINDS:
                    errors.append(f"{where}: bad kind {kind!r}")
                counts[kind] = counts.get(kind, 0) + 1
                if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                    errors.append(f"{where}: answers must be a list of strings")
                    continue
                if kind == "unanswerable":
                    if answers:
                        errors.append(f"{where}: unanswerable row has answers")
                elif not 1 <= len(answers) <= 3:
                    errors.append(f"{where}: expected 1-3 answers, got {len(answers)}")
                if not row["question"].strip():
                    errors.append(f"{where}: empty question")
                split_files.add(fname)
                fpath = os.path.join(corpus, fname)
                if fname not in cache:
                    if not os.path.isfile(fpath):
                        errors.append(f"{where}: address file not found: {fpath}")
                        cache[fname] = None
                    else:
                        with open(fpath, encoding="utf-8", errors="replace") as af:
                            cache[fname] = norm(af.read())
                text = cache[fname]
                if text is None:
                    continue
                for a in answers:
                    if not norm(a):
                        errors.append(f"{where}: empty answer string")
                    elif norm(a) not in text:
                        errors.append(f"{where} ({rid}): answer {a!r} not found in {fname}")
        files_by_split[name] = split_files
        total = sum(counts.values())
        print(f"{name}: {total} questions, {len(split_files)} addresses, "
              + ", ".join(f"{k}={counts[k]}" for k in sorted(counts)))
    overlap = files_by_split[FILES[0]] & files_by_split[FILES[1]]
    if overlap:
        errors.append(f"addresses shared between dev and holdout: {sorted(overlap)}")
    if errors:
        print(f"FAILED: {len(errors)} problem(s)")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("OK: all gold answers found, ids unique, splits disjoint")


if __name__ == "__main__":
    main()
