#!/usr/bin/env python3
"""Sanity checks for the citation-verifier claim sets (standard library only).

Checks, for claims.dev.jsonl and claims.holdout.jsonl:
  * every line is a JSON object with exactly the expected keys, all non-empty strings
  * ids are unique (across both files) and carry the file's prefix
  * doc is "factbook/<gec>.md" or "sotu/<file>.txt" and the file exists
  * quote is an exact substring of the doc
  * context matches the document: for the Factbook "<Country> > <Category> > <Field>"
    taken from the headings above (one of) the quote's occurrence(s); for SOTU
    "<year> <President> State of the Union" with the year of the file name
  * label is supported/unsupported and kind is valid for that label
  * the two files use disjoint documents
  * dev has every unsupported kind at least MIN_PER_KIND times
Prints counts per file, label and kind.  Exit status 1 on any failure.

Usage: python3 check_claims.py [DATA_DIR]   (default ~/.cache/sextant/data/demo)
"""
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.expanduser(sys.argv[1] if len(sys.argv) > 1 else '~/.cache/sextant/data/demo')
FILES = [('claims.dev.jsonl', 'cl-dev-'), ('claims.holdout.jsonl', 'cl-holdout-')]
KEYS = {'id', 'doc', 'context', 'quote', 'claim', 'label', 'kind'}
SUPPORTED_KINDS = {'verbatim', 'paraphrase', 'partial-fact'}
UNSUPPORTED_KINDS = {'negation', 'attribution', 'number-swap', 'entity-swap', 'other-country',
                     'polarity', 'unsupported-addition', 'topic-shift'}
MIN_PER_KIND = 15

_text_cache = {}


def doc_text(doc):
    if doc not in _text_cache:
        with open(os.path.join(DATA, doc), encoding='utf-8') as f:
            _text_cache[doc] = f.read()
    return _text_cache[doc]


def factbook_contexts(text, quote):
    """Heading paths ("Country > Category > Field") of every line containing quote."""
    country = cat = field = None
    out = set()
    for line in text.split('\n'):
        if line.startswith('# '):
            country = line[2:].strip()
        elif line.startswith('## '):
            cat = line[3:].strip()
        elif line.startswith('### '):
            field = line[4:].strip()
        elif quote in line:
            out.add(f'{country} > {cat} > {field}')
    return out


def main():
    errors = []
    all_ids = set()
    docs_by_file = {}
    for fname, prefix in FILES:
        path = os.path.join(HERE, fname)
        rows = []
        with open(path, encoding='utf-8') as f:
            for n, line in enumerate(f, 1):
                where = f'{fname}:{n}'
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    errors.append(f'{where}: bad JSON ({e})')
                    continue
                if not isinstance(r, dict) or set(r) != KEYS:
                    errors.append(f'{where}: keys {sorted(r) if isinstance(r, dict) else type(r)} != {sorted(KEYS)}')
                    continue
                if not all(isinstance(r[k], str) and r[k].strip() for k in KEYS):
                    errors.append(f'{where}: empty or non-string field')
                    continue
                rows.append(r)
                where = f'{fname}:{n} ({r["id"]})'
                if r['id'] in all_ids:
                    errors.append(f'{where}: duplicate id')
                all_ids.add(r['id'])
                if not re.fullmatch(re.escape(prefix) + r'\d{3,}', r['id']):
                    errors.append(f'{where}: id should look like {prefix}NNN')
                m = re.fullmatch(r'factbook/[a-z]{2}\.md|sotu/(\d{4})-[a-z-]+\.txt', r['doc'])
                if not m:
                    errors.append(f'{where}: bad doc {r["doc"]!r}')
                    continue
                if not os.path.exists(os.path.join(DATA, r['doc'])):
                    errors.append(f'{where}: missing doc file {r["doc"]}')
                    continue
                text = doc_text(r['doc'])
                if r['quote'] not in text:
                    errors.append(f'{where}: quote is not an exact substring of {r["doc"]}: {r["quote"][:80]!r}')
                    continue
                if r['doc'].startswith('factbook/'):
                    ctxs = factbook_contexts(text, r['quote'])
                    if r['context'] not in ctxs:
                        errors.append(f'{where}: context {r["context"]!r} not among {sorted(ctxs)}')
                else:
                    year = m.group(1)
                    if not re.fullmatch(re.escape(year) + r' [A-Z][A-Za-z. ]+ State of the Union', r['context']):
                        errors.append(f'{where}: bad SOTU context {r["context"]!r}')
                if r['label'] == 'supported':
                    if r['kind'] not in SUPPORTED_KINDS:
                        errors.append(f'{where}: kind {r["kind"]!r} invalid for supported')
                elif r['label'] == 'unsupported':
                    if r['kind'] not in UNSUPPORTED_KINDS:
                        errors.append(f'{where}: kind {r["kind"]!r} invalid for unsupported')
                else:
                    errors.append(f'{where}: bad label {r["label"]!r}')
        docs_by_file[fname] = {r['doc'] for r in rows}

        labels = collections.Counter(r['label'] for r in rows)
        kinds = collections.Counter((r['label'], r['kind']) for r in rows)
        n = len(rows)
        print(f'{fname}: {n} pairs, {len(docs_by_file[fname])} documents '
              f'({sum(d.startswith("factbook/") for d in docs_by_file[fname])} Factbook, '
              f'{sum(d.startswith("sotu/") for d in docs_by_file[fname])} SOTU)')
        for lab in ('supported', 'unsupported'):
            print(f'  {lab}: {labels[lab]} ({100 * labels[lab] / max(n, 1):.0f}%)')
            for (l2, k), c in sorted(kinds.items()):
                if l2 == lab:
                    print(f'    {k:22s} {c}')
        if fname == 'claims.dev.jsonl':
            for k in sorted(UNSUPPORTED_KINDS):
                if kinds[('unsupported', k)] < MIN_PER_KIND:
                    errors.append(f'{fname}: only {kinds[("unsupported", k)]} unsupported/{k} (< {MIN_PER_KIND})')

    shared = docs_by_file['claims.dev.jsonl'] & docs_by_file['claims.holdout.jsonl']
    if shared:
        errors.append(f'dev and holdout share documents: {sorted(shared)}')

    if errors:
        print(f'\n{len(errors)} problem(s):')
        for e in errors:
            print('  ' + e)
        sys.exit(1)
    print('\nall checks passed')


if __name__ == '__main__':
    main()
