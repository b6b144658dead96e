#!/usr/bin/env python3
"""Draws the import graph of crates/core/src (top-level modules, from `crate::x` paths; unit-test
modules ignored) in the layers of STYLE.md, and fails if an arrow points up a layer or a module
is in no layer. `--write` refreshes docs/import-graph.md (a Mermaid picture).

    server -> signin / operator -> account, mfa, projects, users -> auth (sessions)
           -> tokens, delivery, audit, limits -> store -> kernel -> model
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "crates/core/src"

# Lowest first. A module may use modules of its own layer or below, never above.
LAYERS = [
    ("model", ["model"]),
    ("kernel", ["error", "ids", "clock", "crypto", "cache", "email", "metadata", "password"]),
    ("store", ["store"]),
    ("tokens / delivery", ["tokens", "delivery", "audit", "limits"]),
    ("sessions", ["auth"]),
    ("rules", ["account", "mfa", "projects", "users"]),
    ("entry points", ["signin", "operator"]),
    ("browser flows", ["universal"]),
    ("OpenID provider", ["oauth"]),
]
LAYER_OF = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}


def graph():
    g = {}
    for f in SRC.rglob("*.rs"):
        top = f.relative_to(SRC).parts[0].removesuffix(".rs")
        if top == "lib":
            continue
        text = re.sub(r"#\[cfg\(test\)\][\s\S]*$", "", f.read_text())
        text = re.sub(r"//.*", "", text)
        g.setdefault(top, set()).update(
            d for d in re.findall(r"crate::([a-z_][a-z0-9_]*)", text) if d != top
        )
    return g


def main():
    g = graph()
    problems = [f"{m} is in no layer of scripts/import-graph.py" for m in g if m not in LAYER_OF]
    for m, deps in sorted(g.items()):
        for d in sorted(deps):
            if d in LAYER_OF and m in LAYER_OF and LAYER_OF[d] > LAYER_OF[m]:
                problems.append(f"{m} ({LAYERS[LAYER_OF[m]][0]}) imports {d} ({LAYERS[LAYER_OF[d]][0]}): up a layer")
    lines = ["flowchart TD"]
    for i, (name, mods) in reversed(list(enumerate(LAYERS))):
        lines.append(f'  subgraph L{i}["{name}"]')
        lines += [f"    {m}" for m in mods if m in g]
        lines.append("  end")
    for m, deps in sorted(g.items()):
        lines += [f"  {m} --> {d}" for d in sorted(deps) if d in g]
    picture = "\n".join(lines)
    if "--write" in sys.argv:
        (ROOT / "docs/import-graph.md").write_text(
            "# Import graph of `crates/core`\n\n"
            "Drawn from the code by `python3 scripts/import-graph.py --write`; the test script fails\n"
            "when an arrow points up a layer. Layers, lowest at the bottom: a module uses its own layer\n"
            "or those below (`server` sits on top of all of them).\n\n"
            f"```mermaid\n{picture}\n```\n"
        )
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1 if problems else 0)


main()
