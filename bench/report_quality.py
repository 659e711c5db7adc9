#!/usr/bin/env python3
"""Country-brief quality: support rate, field accuracy and seconds per report, per model.

Generates `sextant report new country-brief --param country=C --model M --json` for each
country and scores it against the Factbook JSON (the gold the demo store was built from):

* support rate: of the portions that state something (not "unknown", not "No reporting
  found"), the share whose text is found in one of the quotes they cite;
* field accuracy: of the key-facts table's fields, the share whose value matches the Factbook
  (answered-and-right / answered / unknown are counted apart: "unknown" is an honest miss);
* seconds per report, wall clock.

Usage: bench/report_quality.py SEXTANT_BIN DATA_DIR FACTBOOK_DIR MODEL... [--countries a,b]
A tuning aid, not an acceptance test: the countries are not the tests' countries.
"""
import json, re, subprocess, sys, time

COUNTRIES = {
    "Peru": "south-america/pe.json", "Norway": "europe/no.json",
    "Vietnam": "east-n-southeast-asia/vm.json", "Ghana": "africa/gh.json",
    "Chile": "south-america/ci.json", "Poland": "europe/pl.json",
}

def norm(s):
    return re.sub(r"\s+", " ", s).strip().lower()

def digits(s):
    return re.sub(r"[^0-9]", "", s)

def first_number(s):
    m = re.search(r"[0-9][0-9,.]*", s)
    return digits(m.group(0)) if m else ""

def gold(fb):
    g, p, e = fb["Government"], fb["People and Society"], fb["Economy"]
    chief = g["Executive branch"]["chief of state"]["text"]
    surname = re.findall(r"\b[A-Z][A-Z'\-]{2,}\b", chief)
    cur = e.get("Exchange rates", {}).get("text", "")
    code = re.findall(r"\(([A-Z]{3})\)", cur)
    name = cur.split(" per ")[0].split("(")[0].strip().split(" ")
    lang = p["Languages"]["text"] if "text" in p["Languages"] else ""
    return {
        "Capital": lambda v: norm(g["Capital"]["name"]["text"].split(";")[0]) in norm(v),
        "Population": lambda v: first_number(p["Population"]["text"]) in digits(v),
        "Area": lambda v: first_number(fb["Geography"]["Area"]["total"]["text"]) in digits(v),
        "Government type": lambda v: norm(v).rstrip(".") in norm(g["Government type"]["text"])
            or norm(g["Government type"]["text"]) in norm(v),
        "Chief of state": lambda v: bool(surname) and surname[0].lower() in norm(v),
        "Currency": lambda v: (bool(code) and code[0] in v)
            or (bool(name[-1]) and name[-1].rstrip("s").lower() in norm(v)),
        "Official languages": lambda v: norm(re.split(r"[,(;]", lang)[0]) in norm(v),
    }

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    bin_, data, factbook, models = args[0], args[1], args[2], args[3:]
    countries = list(COUNTRIES)
    for a in sys.argv:
        if a.startswith("--countries="):
            countries = a.split("=", 1)[1].split(",")
    for model in models:
        secs, claims, supported = [], 0, 0
        right = answered = unknown = 0
        wrong = []
        for c in countries:
            fb = json.load(open(f"{factbook}/{COUNTRIES[c]}"))
            t = time.time()
            out = subprocess.run(
                [bin_, "--data-dir", data, "report", "new", "country-brief",
                 "--param", f"country={c}", "--model", model, "--json"],
                capture_output=True, text=True)
            secs.append(time.time() - t)
            if out.returncode != 0:
                print(f"{model} {c}: failed: {out.stderr[-500:]}", file=sys.stderr)
                continue
            v = json.loads(out.stdout)["version"]
            quotes = {x["n"]: norm(x["quote"]) for x in v["citations"]}
            checks = gold(fb)
            for s in v["sections"]:
                for p in s["portions"]:
                    text = p["text"]
                    if text == "unknown" or text.startswith("No reporting found"):
                        if p.get("field"):
                            unknown += 1
                        continue
                    claims += 1
                    t_ = norm(text).rstrip(".")
                    if any(t_ in quotes.get(n, "") for n in p["citations"]):
                        supported += 1
                    f = p.get("field")
                    if f in checks:
                        answered += 1
                        if checks[f](text):
                            right += 1
                        else:
                            wrong.append(f"{c}/{f}: {text!r}")
        fields = answered + unknown
        secs.sort()
        print(f"model {model}: {len(countries)} country briefs")
        print(f"  support rate      {supported}/{claims} = {supported / max(claims, 1):.1%}")
        print(f"  field accuracy    {right}/{fields} = {right / max(fields, 1):.1%} "
              f"(answered {answered}, right when answered {right / max(answered, 1):.1%}, unknown {unknown})")
        print(f"  seconds/report    mean {sum(secs) / len(secs):.1f}, median {secs[len(secs) // 2]:.1f}, max {secs[-1]:.1f}")
        for w in wrong:
            print(f"    wrong: {w}")

if __name__ == "__main__":
    main()
