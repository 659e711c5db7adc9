#!/usr/bin/env python3
"""Validate the reading-comprehension sets rc.dev.jsonl and rc.holdout.jsonl.

Checks: ids unique (across both files), kind valid, answerable items have 1-3
gold strings that are exact case-sensitive substrings of the passage
(Introduction > Background > text of the Factbook profile), unanswerable items
have answers == [], and the two files use disjoint countries.
Prints counts per file and per kind. Exit status 1 on any failure.
"""
import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FACTBOOK = os.path.expanduser(
    os.environ.get("FACTBOOK_DIR", "~/.cache/sextant/data/factbook/package"))
FILES = ["rc.dev.jsonl", "rc.holdout.jsonl"]
KINDS = {"answerable", "negation", "antonym", "entity-swap", "mutual-exclusion",
         "impossible-condition", "missing-detail"}
FIELDS = {"id", "gec", "region", "question", "answers", "kind"}


def passage(region, gec):
    with open(os.path.join(FACTBOOK, region, gec + ".json"), encoding="utf-8") as f:
        return json.load(f)["Introduction"]["Background"]["text"]


def main():
    errors = []
    seen_ids = set()
    gecs_by_file = {}
    for name in FILES:
        path = os.path.join(HERE, name)
        kinds = collections.Counter()
        gecs = set()
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{name}:{lineno}"
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    errors.append(f"{where}: bad JSON: {e}")
                    continue
                if set(r) != FIELDS:
                    errors.append(f"{where}: fields {sorted(r)}")
                    continue
                if r["id"] in seen_ids:
                    errors.append(f"{where}: duplicate id {r['id']}")
                seen_ids.add(r["id"])
                if r["kind"] not in KINDS:
                    errors.append(f"{where}: bad kind {r['kind']}")
                try:
                    text = passage(r["region"], r["gec"])
                except (OSError, KeyError) as e:
                    errors.append(f"{where}: no passage for {r['region']}/{r['gec']}: {e}")
                    continue
                ans = r["answers"]
                if r["kind"] == "answerable":
                    if not (1 <= len(ans) <= 3):
                        errors.append(f"{where}: answerable needs 1-3 answers, has {len(ans)}")
                    for a in ans:
                        if not a or a not in text:
                            errors.append(f"{where}: {r['id']}: answer {a!r} not in passage {r['gec']}")
                elif ans != []:
                    errors.append(f"{where}: {r['id']}: unanswerable kind {r['kind']} has answers {ans}")
                if not r["question"].strip().endswith("?"):
                    errors.append(f"{where}: question does not end with '?'")
                kinds[r["kind"]] += 1
                gecs.add(r["gec"])
        gecs_by_file[name] = gecs
        total = sum(kinds.values())
        unans = total - kinds["answerable"]
        print(f"{name}: {total} questions, {len(gecs)} countries, "
              f"{kinds['answerable']} answerable, {unans} unanswerable")
        for k in sorted(KINDS):
            print(f"  {k:22s} {kinds[k]}")
    overlap = set.intersection(*gecs_by_file.values())
    if overlap:
        errors.append(f"countries in both files: {sorted(overlap)}")
    for e in errors:
        print("FAIL", e)
    print("OK" if not errors else f"{len(errors)} failure(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
