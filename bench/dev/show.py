#!/usr/bin/env python3
"""Reads an `eval qa --dump` file and prints the failures with their diagnostics."""
import json, sys
path = sys.argv[1]
only = sys.argv[2] if len(sys.argv) > 2 else None
for l in open(path):
    d = json.loads(l)
    o = d["outcome"]
    if o.get("correct") or (not o["answerable"] and o["abstained"]):
        continue
    if only and d.get("kind") != only:
        continue
    a = d["answer"]; t = a.get("trace") or {}
    print(f"{d['_id']} [{d.get('kind')}] {d['question']}  gold={d['gold']}")
    print(f"   answer={a['answer'][:100]!r} type={a.get('answer_type')}")
    print(f"   entity_docs={t.get('entity_docs')} checks={t.get('checks')}")
    r = t.get("read") or {}
    print(f"   read={r.get('span')!r} p_none={r.get('p_none')}")
    for c in (t.get("candidates") or [])[:4]:
        print(f"     - {c[:150]}")
