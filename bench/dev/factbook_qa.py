#!/usr/bin/env python3
"""Plain factual questions with exact gold answers, built from the CIA World Factbook JSON.

    bench/dev/factbook_qa.py FACTBOOK_PACKAGE_DIR OUT_DIR [--seed N]

Writes two disjoint sets (different countries, and partly different question kinds and
phrasings, so the held-out set measures generalisation rather than tuning):

    OUT_DIR/factbook.dev.{queries,answers}.jsonl
    OUT_DIR/factbook.holdout.{queries,answers}.jsonl
    OUT_DIR/factbook.{dev,holdout}.qrels.tsv        (retrieval: the country's profile is relevant)

queries: {"_id", "text"}; answers: {"_id", "answers": [...], "docs": ["<gec>.md"], "kind"}.
An empty answer list marks a question the Factbook does not answer. Gold strings are copied from
the rendered Markdown (scripts/factbook_to_md.py), so "gold inside a cited quote" is exact.
Standard library only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from factbook_to_md import clean, pieces, profile_name  # noqa: E402


def field(profile: dict, cat: str, name: str, sub: str | None = None) -> str | None:
    f = (profile.get(cat) or {}).get(name)
    if not isinstance(f, dict):
        return None
    if sub is not None:
        f = f.get(sub)
        if not isinstance(f, dict):
            return None
    t = f.get("text")
    if not isinstance(t, str):
        return None
    p = pieces(t)
    return p[0] if p else None


NUM = r"\d[\d,]*(?:\.\d+)?"


def first_number(s: str) -> str | None:
    m = re.search(NUM + r"(?: (?:million|billion|trillion))?", s)
    return m.group(0) if m else None


def value(s: str) -> float | None:
    m = re.search(r"(" + NUM + r")(?: (million|billion|trillion))?", s)
    if not m:
        return None
    v = float(m.group(1).replace(",", ""))
    return v * {None: 1, "million": 1e6, "billion": 1e9, "trillion": 1e12}[m.group(2)]


def person(s: str) -> list[str] | None:
    """'President Uhuru KENYATTA (since 9 April 2013); ...' -> ['Uhuru KENYATTA', 'KENYATTA']."""
    s = s.split(";")[0].split("(")[0].strip()
    words = s.split()
    caps = [i for i, w in enumerate(words) if len(w) > 1 and w.strip(",.").isupper() and w.isalpha()]
    if not caps:
        return None
    # Given names start after the title words (lowercase or capitalised title like "President").
    end = caps[0]
    while end + 1 < len(words) and words[end + 1].strip(",.").isupper():
        end += 1
    surname = " ".join(words[caps[0]: end + 1]).strip(",.")
    start = caps[0]
    while start > 0 and words[start - 1][:1].isupper() and not words[start - 1].isupper() and words[start - 1] not in TITLES:
        start -= 1
    full = " ".join(words[start: end + 1]).strip(",.")
    out = [full]
    if surname != full:
        out.append(surname)
    return out


TITLES = {
    "President", "Prime", "Minister", "King", "Queen", "Emir", "Sultan", "Premier", "Chancellor",
    "Governor", "General", "Chairman", "Supreme", "Leader", "Vice", "Grand", "Duke", "Prince",
    "Princess", "Co-prince", "Co-Prince", "Chief", "Executive", "Lt.", "Gen.", "Col.", "Field",
    "Marshal", "Federal", "State", "Head", "of", "Captain", "Regent", "Pope", "Amir", "Crown",
    "Secretary", "Administrator", "Commissioner", "Mayor", "Taoiseach", "Sheikh", "Shaykh",
    "Sovereign", "Interim", "Acting", "Transitional",
}


def currency(s: str) -> list[str] | None:
    m = re.match(r"(.+?) \(([A-Z]{3})\) per US dollar", s)
    if not m:
        return None
    return [m.group(1).strip(), m.group(2)]


def first_item(s: str) -> str | None:
    s = re.split(r"[;,]", s)[0].strip()
    s = re.sub(r"\s*\(.*", "", s).strip()
    s = re.sub(r"\s+\d[\d.,]*%.*", "", s).strip()
    return s or None


def date_of(s: str) -> str | None:
    m = re.search(r"\d{1,2} [A-Z][a-z]+ \d{4}", s)
    if m:
        return m.group(0)
    m = re.search(r"\b\d{4}\b", s)
    return m.group(0) if m else None


def place(s: str) -> str | None:
    s = re.sub(r"\s+-?\d[\d,]* m\b.*", "", s).strip()
    return s or None


# Each kind: (extractor profile -> gold list or None, dev phrasings, holdout phrasings).
# A kind with no dev phrasings is held out entirely.
def kinds():
    return {
        "capital": (
            lambda p: [v] if (v := field(p, "Government", "Capital", "name")) else None,
            ["What is the capital of {c}?", "What is {c}'s capital city?"],
            ["Which city is the capital of {c}?", "Name the capital of {c}."],
        ),
        "population": (
            lambda p: [n] if (v := field(p, "People and Society", "Population")) and (n := first_number(v)) else None,
            ["What is the population of {c}?", "How many people live in {c}?"],
            ["How many inhabitants does {c} have?", "What is {c}'s population?"],
        ),
        "area": (
            lambda p: [v.split(";")[0]] if (v := field(p, "Geography", "Area", "total")) and first_number(v) else None,
            ["What is the total area of {c}?", "How large is {c} in square kilometres?"],
            ["How big is {c}?", "What is the area of {c}?"],
        ),
        "currency": (
            lambda p: currency(v) if (v := field(p, "Economy", "Exchange rates")) else None,
            ["What currency is used in {c}?"],
            ["What is the currency of {c}?", "What money does {c} use?"],
        ),
        "chief_of_state": (
            lambda p: person(v) if (v := field(p, "Government", "Executive branch", "chief of state")) else None,
            ["Who is the chief of state of {c}?"],
            ["Who is {c}'s head of state?"],
        ),
        "head_of_government": (
            lambda p: person(v) if (v := field(p, "Government", "Executive branch", "head of government")) else None,
            ["Who is the head of government of {c}?"],
            ["Who leads the government of {c}?"],
        ),
        "independence": (
            lambda p: [d] if (v := field(p, "Government", "Independence")) and (d := date_of(v)) and "no official" not in v else None,
            ["When did {c} gain independence?"],
            ["In what year did {c} become independent?", "What is the date of independence of {c}?"],
        ),
        "highest_point": (
            lambda p: [x] if (v := field(p, "Geography", "Elevation extremes", "highest point")) and (x := place(v)) else None,
            ["What is the highest point in {c}?"],
            ["What is the tallest mountain in {c}?"],
        ),
        "exports": (
            lambda p: [x] if (v := field(p, "Economy", "Exports - commodities")) and (x := first_item(v)) else None,
            ["What are the main exports of {c}?"],
            ["What does {c} export?"],
        ),
        "languages": (
            lambda p: [x] if (v := field(p, "People and Society", "Languages")) and (x := first_item(v)) else None,
            ["What languages are spoken in {c}?"],
            ["What is the official language of {c}?"],
        ),
        "government_type": (
            lambda p: [v] if (v := field(p, "Government", "Government type")) and len(v) < 60 else None,
            ["What type of government does {c} have?"],
            ["What is the form of government in {c}?"],
        ),
        "life_expectancy": (
            lambda p: [v] if (v := field(p, "People and Society", "Life expectancy at birth", "total population")) else None,
            ["What is the life expectancy at birth in {c}?"],
            ["How long do people in {c} live on average?"],
        ),
        "coastline": (
            lambda p: [v.split(" (")[0]] if (v := field(p, "Geography", "Coastline")) and first_number(v) and not v.startswith("0 km") else None,
            ["How long is the coastline of {c}?"],
            ["What is the length of {c}'s coastline?"],
        ),
        "national_holiday": (
            lambda p: [first_item(v)] if (v := field(p, "Government", "National holiday")) and first_item(v) else None,
            [],
            ["What is the national holiday of {c}?"],
        ),
        "median_age": (
            lambda p: [v] if (v := field(p, "People and Society", "Median age", "total")) else None,
            [],
            ["What is the median age in {c}?"],
        ),
        "gdp_per_capita": (
            lambda p: [v.split(" (")[0]] if (v := field(p, "Economy", "GDP - per capita (PPP)")) and v.startswith("$") else None,
            [],
            ["What is the GDP per capita of {c}?"],
        ),
        "natural_resources": (
            lambda p: [x] if (v := field(p, "Geography", "Natural resources")) and (x := first_item(v)) else None,
            ["What natural resources does {c} have?"],
            ["Name a natural resource of {c}."],
        ),
    }


UNANSWERABLE = [
    # Real countries, facts the Factbook does not hold (the profile looks relevant).
    ("dev", "What is the minimum wage in {c}?"),
    ("dev", "How many universities are there in {c}?"),
    ("dev", "What is the national dish of {c}?"),
    ("dev", "Who won the most recent football championship in {c}?"),
    ("holdout", "What is the speed limit on highways in {c}?"),
    ("holdout", "How many museums does {c} have?"),
    ("holdout", "What is the average price of bread in {c}?"),
    ("holdout", "Who designed the parliament building of {c}?"),
]
FICTIONAL = ["Vardania", "Ostrelia", "Kelmoria", "Brenhal", "Tarsova", "Quellmark"]
FICTIONAL_Q = {
    "dev": ["What is the capital of {c}?", "What is the population of {c}?", "Who is the chief of state of {c}?"],
    "holdout": ["What currency is used in {c}?", "When did {c} gain independence?", "How big is {c}?"],
}

COMPARE = {
    "dev": [
        ("area", "Which is larger, {a} or {b}?", "Geography", "Area", "total"),
        ("population", "Which has more people, {a} or {b}?", "People and Society", "Population", None),
    ],
    "holdout": [
        ("area", "{a} or {b}: which country is bigger?", "Geography", "Area", "total"),
        ("population", "Which country has the larger population, {a} or {b}?", "People and Society", "Population", None),
    ],
}


def split_of(gec: str) -> str:
    """Stable split by country: about 60% dev, 40% held out."""
    h = int(hashlib.sha256(gec.encode()).hexdigest()[:8], 16)
    return "dev" if h % 10 < 6 else "holdout"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-kind", type=int, default=12, help="questions per kind and split")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    files = sorted(p for p in args.src.glob("*/*.json") if re.fullmatch(r"[a-z]{2}", p.stem))
    profiles = {}
    for p in files:
        prof = json.load(open(p, encoding="utf-8"))
        name = profile_name(p.stem, prof)
        # Countries only: profiles with a capital and a population (no oceans, no "World").
        if name and field(prof, "Government", "Capital", "name") and field(prof, "People and Society", "Population"):
            md_path = args.src.parent.parent / "demo" / "factbook" / f"{p.stem}.md"
            profiles[p.stem] = (name, prof, md_path.read_text(encoding="utf-8") if md_path.exists() else None)
    out = {s: [] for s in ("dev", "holdout")}
    for kind, (extract, dev_q, hold_q) in kinds().items():
        for split, templates in (("dev", dev_q), ("holdout", hold_q)):
            if not templates:
                continue
            pool = [g for g in profiles if split_of(g) == split]
            rng.shuffle(pool)
            n = 0
            for gec in pool:
                name, prof, md = profiles[gec]
                gold = extract(prof)
                if not gold or not all(gold):
                    continue
                gold = [clean(g) for g in gold]
                if any(g in ("NA", "none", "") for g in gold):
                    continue
                # Acceptable shorter forms: "Hanoi (Ha Noi)" -> "Hanoi"; "267,667 sq km" ->
                # "267,667"; "61.71 years" -> "61.71".
                extra = []
                for g in gold:
                    for short in (g.split(" (")[0], g.split("; ")[0], re.sub(r" (sq km|km|years)$", "", g)):
                        short = short.strip()
                        if short and short != g and short not in gold and short not in extra:
                            extra.append(short)
                gold = gold + extra
                # The gold must be in the rendered profile, or the question cannot be scored.
                if md is not None and not any(g in md for g in gold):
                    continue
                q = rng.choice(templates).format(c=name)
                out[split].append({"q": q, "answers": gold, "docs": [f"{gec}.md"], "kind": kind})
                n += 1
                if n >= args.per_kind:
                    break
    for split in ("dev", "holdout"):
        pool = [g for g in profiles if split_of(g) == split]
        for kind, template, cat, fld, sub in COMPARE[split]:
            n = 0
            while n < args.per_kind:
                a, b = rng.sample(pool, 2)
                va = value(field(profiles[a][1], cat, fld, sub) or "")
                vb = value(field(profiles[b][1], cat, fld, sub) or "")
                if not va or not vb or max(va, vb) / min(va, vb) < 1.01:
                    continue
                win = a if va > vb else b
                q = template.format(a=profiles[a][0], b=profiles[b][0])
                out[split].append({"q": q, "answers": [profiles[win][0]], "docs": [f"{a}.md", f"{b}.md"], "kind": f"compare_{kind}"})
                n += 1
        for s, template in UNANSWERABLE:
            if s != split:
                continue
            for gec in rng.sample(pool, 3):
                out[split].append({"q": template.format(c=profiles[gec][0]), "answers": [], "docs": [f"{gec}.md"], "kind": "unanswerable"})
        names = FICTIONAL[:3] if split == "dev" else FICTIONAL[3:]
        for c, template in zip(names * 3, FICTIONAL_Q[split] * 3):
            out[split].append({"q": template.format(c=c), "answers": [], "docs": [], "kind": "unanswerable_fictional"})
    args.out.mkdir(parents=True, exist_ok=True)
    for split, rows in out.items():
        with open(args.out / f"factbook.{split}.queries.jsonl", "w") as fq, \
             open(args.out / f"factbook.{split}.answers.jsonl", "w") as fa, \
             open(args.out / f"factbook.{split}.qrels.tsv", "w") as fr:
            fr.write("query-id\tcorpus-id\tscore\n")
            for i, r in enumerate(rows, 1):
                qid = f"fb-{split}-{i:03d}"
                fq.write(json.dumps({"_id": qid, "text": r["q"]}) + "\n")
                fa.write(json.dumps({"_id": qid, "answers": r["answers"], "docs": r["docs"], "kind": r["kind"]}) + "\n")
                for d in r["docs"]:
                    fr.write(f"{qid}\t{d}\t1\n")
        kinds_n = {}
        for r in rows:
            kinds_n[r["kind"]] = kinds_n.get(r["kind"], 0) + 1
        print(f"{split}: {len(rows)} questions: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds_n.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
