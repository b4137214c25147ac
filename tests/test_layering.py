"""The design the import check enforces (scripts/check_imports.py), proven both ways: the app
obeys it, and each rule catches a module that breaks it."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _check_imports() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_imports", ROOT / "scripts" / "check_imports.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_imports", module)
    spec.loader.exec_module(module)
    return module


check_imports = _check_imports()


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    app = tmp_path / "app"
    for name, text in files.items():
        path = app / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return app


def test_the_app_obeys_the_design() -> None:
    assert check_imports.problems_of(ROOT / "app") == []


@pytest.mark.parametrize(
    ("module", "text", "complaint"),
    [
        (
            "orders/service.py",
            "from app.core.request_context import current_request_id\n",
            "reads request state",
        ),
        ("orders/service.py", "from fastapi import Request\n", "reads request state"),
        (
            "orders/views.py",
            "from app.auth.dependencies import CurrentPrincipal\n",
            "reads request state",
        ),
        (
            "orders/router.py",
            "from app.orders.repository import OrderRepository\n",
            "must not use a repository",
        ),
        (
            "orders/admin_router.py",
            "from app.payments import repository\n",
            "must not use a repository",
        ),
        ("orders/service.py", "from app.disputes import service\n", "a higher layer"),
        ("orders/service.py", "from app.messaging import events\n", "a higher layer"),
    ],
)
def test_each_rule_catches_a_module_that_breaks_it(
    tmp_path: Path, module: str, text: str, complaint: str
) -> None:
    app = _tree(tmp_path, {module: text})
    problems = check_imports.problems_of(app)
    assert len(problems) == 1
    assert complaint in problems[0]
    assert module in problems[0]


@pytest.mark.parametrize(
    ("module", "text"),
    [
        ("orders/router.py", "from fastapi import Request\nfrom app.orders import service\n"),
        ("orders/dependencies.py", "from app.auth.dependencies import CurrentPrincipal\n"),
        ("orders/service.py", "from app.payments import service\n"),
        ("core/errors.py", "from app.core.request_context import current_request_id\n"),
    ],
)
def test_what_the_design_allows_passes(tmp_path: Path, module: str, text: str) -> None:
    assert check_imports.problems_of(_tree(tmp_path, {module: text})) == []
