#!/usr/bin/env python3
"""Fails when a module imports against the intended design (cycles are bugs).

1. Layering. Layers, lowest first; a package may import only from its own layer or lower
   ones. `messaging` (notifications, webhooks) consumes every domain's outbox events and
   gathers their event types, so it sits above every domain and no domain imports it;
   `privacy` asks every domain, messaging included, to export and erase its part, so it sits
   above messaging (and reads every table through `models_registry`); the composition layer
   (admin face, worker, demo) above them all.
2. The boundary. Who the caller is gets decided once, at the boundary (a domain's `router`,
   `*router` or `dependencies` module): no other module of a domain reads request state
   (the request, its context variables, the authentication dependencies).
3. Thin routers. A router reaches the database only through its domain's services and
   guards, never through a repository.
"""

import ast
import sys
from pathlib import Path

LAYERS: list[set[str]] = [
    {"config"},
    {"core"},
    {"auth"},
    {"sellers"},
    {"shipping"},
    {"catalog"},
    {"fees", "payments", "promotions"},
    {"orders"},
    {"logistics"},
    {"conversations", "disputes", "reviews", "watchlists"},
    {"offers"},
    {"messaging", "models_registry"},
    {"privacy"},
    {"admin", "ops", "demo", "worker"},
    {"api"},
    {"main"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
APP = Path(__file__).resolve().parent.parent / "app"


def is_router(path: Path) -> bool:
    return path.name.endswith("router.py")  # router.py, admin_router.py, audit_router.py


def is_boundary(path: Path) -> bool:
    """The modules of a domain that may see the request: its routers and guards."""
    return is_router(path) or path.name == "dependencies.py"


REQUEST_STATE = (
    "app.core.request_context",
    "app.auth.dependencies",
    "fastapi.Request",
    "fastapi.Depends",
    "starlette.requests",
)
"""What reading request state means: the request itself, its context variables, and the
dependencies that authenticate it."""
PLUMBING = frozenset({"core", "config", "main", "api", "cli", "ops"})
"""Packages that are the boundary or below it (middleware, error rendering, the app)."""


def package_of(path: Path, app: Path) -> str:
    relative = path.relative_to(app)
    return relative.parts[0].removesuffix(".py")


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def imported_packages(modules: set[str]) -> set[str]:
    return {m.split(".")[1] for m in modules if m.startswith("app.") and m.count(".") >= 1}


def _is_under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _outermost(modules: list[str]) -> list[str]:
    """One entry per import: `app.x` rather than also `app.x.Name` from the same statement."""
    return [m for m in modules if not any(m != o and _is_under(m, o) for o in modules)]


def problems_of(app: Path) -> list[str]:
    problems: list[str] = []
    for path in sorted(app.rglob("*.py")):
        if path.parent == app and path.name == "__init__.py":
            continue
        own = package_of(path, app)
        if own not in RANK:
            problems.append(f"{path}: package '{own}' has no layer in scripts/check_imports.py")
            continue
        modules = imported_modules(ast.parse(path.read_text(), str(path)))
        for target in sorted(imported_packages(modules)):
            if target not in RANK:
                problems.append(f"{path}: imports unknown package app.{target}")
            elif RANK[target] > RANK[own]:
                problems.append(f"{path}: {own} must not import app.{target} (a higher layer)")
        if own in PLUMBING:
            continue
        if not is_boundary(path):
            reads = [m for m in modules if any(_is_under(m, state) for state in REQUEST_STATE)]
            for module in sorted(_outermost(reads)):
                problems.append(
                    f"{path}: reads request state ({module}); only a domain's "
                    "routers and dependencies may"
                )
        if is_router(path):
            used = [m for m in modules if m.startswith("app.") and ".repository" in m]
            for module in sorted(_outermost(used)):
                problems.append(f"{path}: a router must not use a repository ({module})")
    return problems


def main() -> int:
    problems = problems_of(APP)
    for problem in problems:
        print(problem)
    print(f"import layering: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
