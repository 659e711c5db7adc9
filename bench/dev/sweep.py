#!/usr/bin/env python3
"""Sweeps the abstention thresholds offline over an `eval qa --dump` run made with
--none-threshold 1 --min-statement-coverage 0 (every question's p(no answer) and statement
coverage recorded, every span copied): abstain when p(no answer) >= tau or coverage < theta.

    bench/dev/sweep.py DUMP.jsonl [DUMP2.jsonl ...]
"""
import json, sys

rows = []
for path in sys.argv[1:]:
    for l in open(path):
        d = json.loads(l)
        a = d["answer"]; t = a.get("trace") or {}
        r = t.get("read") or {}
        rows.append((d["outcome"], r.get("p_none"), t.get("statement_coverage"), a["abstained"]))

ans = [x for x in rows if x[0]["answerable"]]
un = [x for x in rows if not x[0]["answerable"]]
print(f"{len(ans)} answerable, {len(un)} unanswerable")
print(f"{'tau':>5} {'theta':>5} {'correct':>8} {'abst_ans':>9} {'abst_un':>8} {'wrong_ans':>9}")
for theta in [0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]:
    for tau in [0.1, 0.2, 0.3, 0.5, 1.01]:
        def abst(x):
            o, p, c, ab = x
            return ab or (p is not None and p >= tau) or (c is not None and c < theta)
        correct = sum(1 for x in ans if not abst(x) and x[0]["correct"]) / max(1, len(ans))
        a_ans = sum(1 for x in ans if abst(x)) / max(1, len(ans))
        a_un = sum(1 for x in un if abst(x)) / max(1, len(un))
        answered = [x for x in rows if not abst(x)]
        wrong = sum(1 for x in answered if not (x[0]["answerable"] and x[0]["correct"])) / max(1, len(answered))
        print(f"{tau:>5.2f} {theta:>5.2f} {correct:>8.3f} {a_ans:>9.3f} {a_un:>8.3f} {wrong:>9.3f}")
