#!/usr/bin/env python3
"""Build claims.dev.jsonl / claims.holdout.jsonl from the hand-written specs
in specs_dev.txt / specs_holdout.txt (same directory).

Spec line:  doc | field | quote | claim | label | kind
  doc   : Factbook GEC code (e.g. "ke") or "s:<sotu file stem>" (e.g. "s:2001-george-w-bush")
  field : Factbook field name ("###" heading) or "-" to locate the quote automatically
  quote : exact text; a trailing "<<" means "the whole line (Factbook) / whole sentence (SOTU)
          that starts with this text"
  label : S (supported) / U (unsupported)
  kind  : short code, see KINDS
Blank lines and lines starting with "#" are ignored.
"""
import json, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.expanduser('~/.cache/sextant/data/demo')
KINDS = {'v': 'verbatim', 'p': 'paraphrase', 'pf': 'partial-fact',
         'neg': 'negation', 'attr': 'attribution', 'num': 'number-swap', 'ent': 'entity-swap',
         'oc': 'other-country', 'pol': 'polarity', 'add': 'unsupported-addition', 'top': 'topic-shift'}
PROSE = {'Background', 'Economy - overview'}
SUPPORTED = {'verbatim', 'paraphrase', 'partial-fact'}

def parse_fb(gec):
    text = open(f'{DATA}/factbook/{gec}.md', encoding='utf-8').read()
    country = cat = field = None
    rows = []
    for line in text.split('\n'):
        if line.startswith('# '): country = line[2:].strip(); continue
        if line.startswith('## '): cat = line[3:].strip(); continue
        if line.startswith('### '): field = line[4:].strip(); continue
        if line.strip(): rows.append((country, cat, field, line))
    return text, rows

def sotu_sentences(text):
    return [p.strip() for p in re.split(r'(?<=[.!?])\s+(?=[A-Z"“(])', text) if p.strip()]

def president(stem):
    year, *parts = stem.split('-')
    name = ' '.join(parts).replace('mc kinley', 'mckinley')
    words = []
    for w in name.split():
        if w == 'mckinley': words.append('McKinley')
        elif len(w) == 1: words.append(w.upper() + '.')
        else: words.append(w.capitalize())
    return year, ' '.join(words)

_fb_cache, _sotu_cache = {}, {}

def resolve(doc, field, quote):
    if doc.startswith('s:'):
        stem = doc[2:]
        if stem not in _sotu_cache:
            t = open(f'{DATA}/sotu/{stem}.txt', encoding='utf-8').read()
            _sotu_cache[stem] = (t, sotu_sentences(t))
        text, sents = _sotu_cache[stem]
        if quote.endswith('<<'):
            pre = quote[:-2]
            hits = [s for s in sents if s.startswith(pre)]
            if len(set(hits)) != 1:
                raise ValueError(f'{doc}: {len(hits)} sentences start with {pre!r}')
            quote = hits[0]
        if quote not in text:
            raise ValueError(f'{doc}: quote not found: {quote!r}')
        year, pres = president(stem)
        return f'sotu/{stem}.txt', f'{year} {pres} State of the Union', quote
    if doc not in _fb_cache:
        _fb_cache[doc] = parse_fb(doc)
    text, rows = _fb_cache[doc]
    cand = [r for r in rows if field in ('-', r[2])]
    if quote.endswith('<<'):
        pre = quote[:-2]
        # prose fields: "<<" expands to one sentence, never the whole paragraph
        hits = [r for r in cand if r[3].startswith(pre) and r[2] not in PROSE]
        if not hits:  # allow a sentence inside a line
            hits = []
            for r in cand:
                for s in re.split(r'(?<=[.!?])\s+(?=[A-Z])', r[3]):
                    if s.startswith(pre): hits.append((r[0], r[1], r[2], s))
    else:
        hits = [r for r in cand if quote in r[3]]
    keys = {(r[0], r[1], r[2], r[3]) for r in hits}
    if len(keys) != 1:
        raise ValueError(f'{doc}/{field}: {len(keys)} matches for {quote!r}: {[k[2] for k in keys]}')
    country, cat, fld, line = hits[0]
    if quote.endswith('<<'):
        quote = line
    assert quote in text
    return f'factbook/{doc}.md', f'{country} > {cat} > {fld}', quote

def build(spec_name, out_name, prefix):
    out, errors = [], []
    n = 0
    for lineno, raw in enumerate(open(os.path.join(HERE, spec_name), encoding='utf-8'), 1):
        raw = raw.rstrip('\n')
        if not raw.strip() or raw.lstrip().startswith('#'):
            continue
        parts = [p.strip() for p in raw.split(' | ')]
        if len(parts) != 6:
            errors.append(f'{spec_name}:{lineno}: expected 6 fields, got {len(parts)}'); continue
        doc, field, quote, claim, label, kind = parts
        try:
            docpath, context, quote = resolve(doc, field, quote)
        except Exception as e:
            errors.append(f'{spec_name}:{lineno}: {e}'); continue
        n += 1
        out.append({'id': f'{prefix}-{n:03d}', 'doc': docpath, 'context': context, 'quote': quote,
                    'claim': claim, 'label': {'S': 'supported', 'U': 'unsupported'}[label],
                    'kind': KINDS[kind]})
        lab, knd = out[-1]['label'], out[-1]['kind']
        if (lab == 'supported') != (knd in SUPPORTED):
            errors.append(f'{spec_name}:{lineno}: label/kind mismatch {lab}/{knd}')
    if errors:
        print('\n'.join(errors)); sys.exit(1)
    with open(os.path.join(HERE, out_name), 'w', encoding='utf-8') as f:
        for o in out:
            f.write(json.dumps(o, ensure_ascii=False) + '\n')
    print(f'{out_name}: {len(out)} pairs')

if __name__ == '__main__':
    build('specs_dev.txt', 'claims.dev.jsonl', 'cl-dev')
    if os.path.exists(os.path.join(HERE, 'specs_holdout.txt')):
        build('specs_holdout.txt', 'claims.holdout.jsonl', 'cl-holdout')
