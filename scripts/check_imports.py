#!/usr/bin/env python3
"""Fails when a module imports against the domain layering (cycles are bugs).

Layers, lowest first; a package may import only from its own layer or lower ones.
"""

import ast
import sys
from pathlib import Path

LAYERS: list[set[str]] = [
    {"config"},
    {"core"},
    {"auth"},
    {"sellers"},
    {"catalog"},
    {"payments"},
    {"orders"},
    {"disputes", "reviews"},
    {"messaging"},
    {"admin", "ops", "demo", "worker", "models_registry"},
    {"privacy"},
    {"api"},
    {"main"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
APP = Path(__file__).resolve().parent.parent / "app"


def package_of(path: Path) -> str:
    relative = path.relative_to(APP)
    return relative.parts[0].removesuffix(".py")


def imported_packages(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("app."))
    return found


def main() -> int:
    problems: list[str] = []
    for path in sorted(APP.rglob("*.py")):
        if path.parent == APP and path.name == "__init__.py":
            continue
        own = package_of(path)
        if own not in RANK:
            problems.append(f"{path}: package '{own}' has no layer in scripts/check_imports.py")
            continue
        for target in imported_packages(ast.parse(path.read_text(), str(path))):
            if target not in RANK:
                problems.append(f"{path}: imports unknown package app.{target}")
            elif RANK[target] > RANK[own]:
                problems.append(f"{path}: {own} must not import app.{target} (a higher layer)")
    for problem in problems:
        print(problem)
    print(f"import layering: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
