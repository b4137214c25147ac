#!/usr/bin/env python3
"""Measures where "who acts on what" is decided (issue 14): prints one table, then details.

It measures the tree whose `app` package Python imports (run it with PYTHONPATH=<tree> to
measure another checkout) and changes nothing there: the SQL is counted on a throwaway SQLite
database in a temporary directory.

1. Handlers with more than one service call. A handler is a function decorated with
   `@<router>.get/post/put/patch/delete(...)` in any module under app/, or defined inside a
   module-level function that registers it with `add_api_route` (catalog's route factories);
   each counted once, however many routes it serves. A service call is a
   call, anywhere in the handler's body (nested functions such as an idempotent `produce`
   included), of an `async def` of a service-like module: one whose dotted name has a part
   `service`, `returns`, `checkout` or `api_keys`, or a part ending in `_service`, or that is
   imported under such a name (`... import checkout as checkout_service`). The callee is
   found through the module's imports (`alias.f(...)` or an imported `f(...)`) and looked
   up in the target module's source, following re-exports; synchronous functions of those
   modules (presenters such as `to_read`, ETag helpers) are not service calls. A call of a
   function of the router module itself (a shared `_return_step`) counts the service calls
   made inside it. Resource guards (dependencies) are not part of the handler.
2. Places that read request context below the router: in every module under app/ except
   those that define routes, `router.py`/`*_router.py`, `dependencies.py`, `guards.py`,
   app/core/middleware.py and app/core/request_context.py itself, each use (not the import,
   not the definition) of `acting_through_api_key`, `api_key_scopes`, `acts_as_admin`,
   `set_api_key_scopes` or of any other name taken from `app.core.request_context`, and
   each `Request` parameter of a function in a service or repository module (a module
   counted as service-like above, or named `repository`/`*_repository`). The request id
   (`current_request_id`, `set_request_id`) is excluded: logs and error bodies quoting it
   are not decisions.
3. SQL statements per request for GET /v1/orders/{id} (as the buyer), POST
   /v1/orders/{id}/ship (the seller) and POST /v1/admin/disputes/{id}/resolve (an admin,
   on an escalated dispute): the app is built in-process (`create_app`) on a fresh SQLite
   database made by the migrations, the admin by the `create-admin` command, everything
   else through the HTTP API; a `before_cursor_execute` listener on the app's engine counts
   what each measured request sends, by kind. Transaction control (BEGIN, COMMIT, ROLLBACK,
   SAVEPOINT, RELEASE) and PRAGMAs are not counted. Each request is measured on its second
   occurrence (the first, on another order or dispute, warms whatever a process caches).
4. Duplicate pairs: the count `duplicates --repo <tree>/app` (and `/tests`) reports.
"""

import argparse
import ast
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

import app as app_package
from app.cli import main as marketplace
from app.config import get_settings
from app.main import create_app

ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete"})
SERVICE_PARTS = frozenset({"service", "returns", "checkout", "api_keys"})
AMBIENT_NAMES = frozenset(
    {"acting_through_api_key", "api_key_scopes", "acts_as_admin", "set_api_key_scopes"}
)
REQUEST_CONTEXT = "app.core.request_context"
REQUEST_ID_NAMES = frozenset({"current_request_id", "set_request_id"})
NOT_BELOW_THE_ROUTER = frozenset({"app.core.middleware", REQUEST_CONTEXT})
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"})
STATEMENT_KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


# --- the source tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module


class Tree:
    """The modules of one checkout's `app` package, parsed once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: dict[str, Module] = {}
        for path in sorted((root / "app").rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            self.modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)))

    def location(self, module: Module, node: ast.AST) -> str:
        return f"{module.path.relative_to(self.root)}:{getattr(node, 'lineno', 0)}"


def is_service_like(module_name: str, alias: str | None = None) -> bool:
    names = [*module_name.split("."), *([alias] if alias else [])]
    return any(part in SERVICE_PARTS or part.endswith("_service") for part in names)


def absolute(module: Module, node: ast.ImportFrom) -> str:
    """The module an `ImportFrom` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    is_package = module.path.name == "__init__.py"
    base = package[: len(package) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


@dataclass(frozen=True)
class Imported:
    """What a local name is bound to by an import: a module, or a name in a module."""

    module: str
    attribute: str | None
    alias: str


def imports_of(tree: Tree, module: Module) -> dict[str, Imported]:
    bound: dict[str, Imported] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                local = name.asname or name.name.split(".")[0]
                target = name.name if name.asname else name.name.split(".")[0]
                bound[local] = Imported(target, None, local)
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            for name in node.names:
                local = name.asname or name.name
                submodule = f"{source}.{name.name}"
                if submodule in tree.modules:
                    bound[local] = Imported(submodule, None, local)
                else:
                    bound[local] = Imported(source, name.name, local)
    return bound


def is_coroutine_function(tree: Tree, module_name: str, name: str, depth: int = 0) -> bool | None:
    """Whether `module_name.name` is an `async def` (following re-exports); None when the
    source is not in the tree."""
    module = tree.modules.get(module_name)
    if module is None or depth > 5:
        return None
    for node in module.tree.body:
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return False
    target = imports_of(tree, module).get(name)
    if target is None or target.attribute is None:
        return False
    return is_coroutine_function(tree, target.module, target.attribute, depth + 1)


# --- 1. handlers and their service calls ------------------------------------------------------


def is_route_decorator(decorator: ast.expr) -> bool:
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in ROUTE_METHODS
    )


Function = ast.FunctionDef | ast.AsyncFunctionDef


def handlers_of(module: Module) -> list[Function]:
    decorated = [
        node
        for node in module.tree.body
        if isinstance(node, Function) and any(map(is_route_decorator, node.decorator_list))
    ]
    return decorated + [
        inner
        for factory in module.tree.body
        if isinstance(factory, Function) and registers_routes(factory)
        for inner in factory.body
        if isinstance(inner, Function)
    ]


def registers_routes(function: Function) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_api_route"
        for node in ast.walk(function)
    )


@dataclass
class Handler:
    path: str
    line: int
    name: str
    calls: list[str] = field(default_factory=list)


def service_calls(
    tree: Tree, module: Module, function: Function, seen: frozenset[str] = frozenset()
) -> Iterator[str]:
    bound = imports_of(tree, module)
    local_functions = {node.name: node for node in module.tree.body if isinstance(node, Function)}
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        if isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
            target = bound.get(callee.value.id)
            if (
                target is not None
                and target.attribute is None
                and is_service_like(target.module, target.alias)
            ):
                coroutine = is_coroutine_function(tree, target.module, callee.attr)
                if coroutine or (coroutine is None and _awaited(function, node)):
                    yield f"{callee.value.id}.{callee.attr}"
        elif isinstance(callee, ast.Name):
            target = bound.get(callee.id)
            if target is not None and target.attribute is not None:
                if is_service_like(target.module, target.alias) and is_coroutine_function(
                    tree, target.module, target.attribute
                ):
                    yield callee.id
            elif callee.id in local_functions and callee.id not in seen:
                helper = local_functions[callee.id]
                for call in service_calls(tree, module, helper, seen | {function.name}):
                    yield f"{callee.id} → {call}"


def _awaited(function: Function, call: ast.Call) -> bool:
    return any(isinstance(n, ast.Await) and n.value is call for n in ast.walk(function))


def measure_handlers(tree: Tree) -> list[Handler]:
    found: list[Handler] = []
    for module in tree.modules.values():
        for function in handlers_of(module):
            where = str(module.path.relative_to(tree.root))
            handler = Handler(where, function.lineno, function.name)
            handler.calls = list(service_calls(tree, module, function))
            found.append(handler)
    return found


# --- 2. request context below the router ------------------------------------------------------


def is_route_module(module: Module) -> bool:
    stem = module.path.stem
    return bool(handlers_of(module)) or stem == "router" or stem.endswith("_router")


def below_the_router(module: Module) -> bool:
    stem = module.path.stem
    return not (
        module.name in NOT_BELOW_THE_ROUTER
        or is_route_module(module)
        or stem.endswith("dependencies")
        or stem == "guards"
    )


def is_service_or_repository(module: Module) -> bool:
    last = module.name.split(".")[-1]
    return is_service_like(module.name) or last == "repository" or last.endswith("_repository")


def context_reads(tree: Tree, module: Module) -> Iterator[str]:
    bound = imports_of(tree, module)
    watched = set(AMBIENT_NAMES)
    context_modules: set[str] = set()
    for local, target in bound.items():
        if target.module == REQUEST_CONTEXT and target.attribute is not None:
            if target.attribute not in REQUEST_ID_NAMES:
                watched.add(local)
        elif target.module == REQUEST_CONTEXT:
            context_modules.add(local)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in watched:
            yield f"{tree.location(module, node)} {node.id}"
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in context_modules
            and node.attr not in REQUEST_ID_NAMES
        ):
            yield f"{tree.location(module, node)} {node.value.id}.{node.attr}"
    if is_service_or_repository(module):
        for node in ast.walk(module.tree):
            if isinstance(node, Function):
                for argument in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    if _names_request(argument.annotation):
                        where = tree.location(module, argument)
                        yield f"{where} Request parameter of {node.name}"


def _names_request(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    return any(
        (isinstance(n, ast.Name) and n.id == "Request")
        or (isinstance(n, ast.Attribute) and n.attr == "Request")
        for n in ast.walk(annotation)
    )


def measure_context_reads(tree: Tree) -> list[str]:
    return [
        place
        for module in tree.modules.values()
        if below_the_router(module)
        for place in context_reads(tree, module)
    ]


# --- 3. SQL statements per request --------------------------------------------------------------


@dataclass
class Statements:
    kinds: Counter[str] = field(default_factory=Counter)
    sent: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def __str__(self) -> str:
        shown = ", ".join(f"{self.kinds[kind]} {kind}" for kind in STATEMENT_KINDS)
        other = self.total - sum(self.kinds[kind] for kind in STATEMENT_KINDS)
        return f"{self.total} ({shown}{f', {other} other' if other else ''})"


class StatementCounter:
    """Counts the statements the engine sends into `current`, while there is one."""

    def __init__(self) -> None:
        self.current: Statements | None = None

    def __call__(self, _connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if self.current is None:
            return
        words = statement.lstrip().split(None, 1)
        kind = words[0].upper() if words else ""
        if kind in TRANSACTION_CONTROL:
            return
        self.current.kinds[kind if kind in STATEMENT_KINDS else "other"] += 1
        self.current.sent.append(" ".join(statement.split())[:160])


PASSWORD = f"measure-{uuid.uuid4().hex}"
PAYOUT_ACCOUNT = "DE89370400440532013000"
SHIPMENT = {"carrier": "sandbox", "tracking_number": "SBX00000001-DELIVERED-0"}
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7946 0000",
}


def environment(directory: Path) -> dict[str, str]:
    """Test settings (as `make_settings` in tests/factories/apps.py): rate limits off, cheap
    password hashing, no in-process worker, media in the temporary directory."""
    return {
        "MARKETPLACE_ENVIRONMENT": "test",
        "MARKETPLACE_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'measure.db'}",
        "MARKETPLACE_MEDIA_DIR": str(directory / "media"),
        "MARKETPLACE_LOG_JSON": "false",
        "MARKETPLACE_LOG_LEVEL": "WARNING",
        "MARKETPLACE_RUN_WORKER_IN_PROCESS": "false",
        "MARKETPLACE_RATE_LIMITS_ENABLED": "false",
        "MARKETPLACE_PASSWORD_HASH_TIME_COST": "1",
        "MARKETPLACE_PASSWORD_HASH_MEMORY_KIB": "8",
        "MARKETPLACE_PASSWORD_HASH_PARALLELISM": "1",
    }


class Api:
    """The HTTP calls the measurement needs, each checked for its success status."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        url: str,
        token: str | None,
        status: int = 200,
        *,
        idempotent: bool = False,
        **kwargs: Any,
    ) -> Any:
        """`idempotent`: send an `Idempotency-Key` (only where the route requires one, so
        that the key's bookkeeping is measured only where every client pays for it)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if idempotent:
            headers["Idempotency-Key"] = f"measure-{uuid.uuid4().hex}"
        response = await self.client.request(method, url, headers=headers, **kwargs)
        if response.status_code != status:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def login(self, email: str) -> str:
        form = {"username": email, "password": PASSWORD}
        token: str = (await self.call("POST", "/v1/auth/token", None, data=form))["access_token"]
        return token

    async def register(self, name: str) -> str:
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": PASSWORD, "display_name": name}
        await self.call("POST", "/v1/auth/register", None, 201, json=body)
        return await self.login(email)


@dataclass
class Stage:
    api: Api
    admin: str
    buyer: str
    seller: str
    listing_id: str


async def stage(api: Api, admin_email: str) -> Stage:
    """An approved shop with a live listing, a buyer, and the admin."""
    admin = await api.login(admin_email)
    seller = await api.register("seller")
    application = {
        "shop_name": f"Shop {uuid.uuid4().hex[:8]}",
        "legal_name": "Measure Seller",
        "seller_type": "individual",
        "country": "DE",
        "contact_email": "seller@example.com",
        "contact_phone": "+49 30 1234567",
        "payout_account": PAYOUT_ACCOUNT,
    }
    shop = await api.call("POST", "/v1/sellers", seller, 201, json=application)
    await api.call("POST", f"/v1/admin/sellers/{shop['id']}/approve", admin)
    root = await api.call("POST", "/v1/admin/categories", admin, 201, json={"name": "Root"})
    leaf_body = {"name": "Leaf", "parent_id": root["id"]}
    leaf = await api.call("POST", "/v1/admin/categories", admin, 201, json=leaf_body)
    listing_body = {
        "title": "Vintage camera",
        "description": "Works, with a leather case",
        "price": {"amount": 1000, "currency": "USD"},
        "quantity": 50,
        "condition": "good",
        "category_id": leaf["id"],
        "shipping_fee": {"amount": 500, "currency": "USD"},
    }
    listing = await api.call("POST", "/v1/listings", seller, 201, json=listing_body)
    await api.call("POST", f"/v1/listings/{listing['id']}/publish", seller)
    return Stage(api, admin, await api.register("buyer"), seller, listing["id"])


async def paid_order(s: Stage) -> str:
    body = {"shipping_address": ADDRESS, "items": [{"listing_id": s.listing_id, "quantity": 1}]}
    created = await s.api.call("POST", "/v1/checkout", s.buyer, 201, idempotent=True, json=body)
    pay = {"payment_token": "tok_success"}
    url = f"/v1/checkouts/{created['id']}/pay"
    paid = await s.api.call("POST", url, s.buyer, idempotent=True, json=pay)
    order_id: str = paid["orders"][0]["id"]
    return order_id


async def escalated_dispute(s: Stage) -> str:
    order_id = await paid_order(s)
    await s.api.call("POST", f"/v1/orders/{order_id}/ship", s.seller, json=SHIPMENT)
    body = {
        "reason": "not_as_described",
        "description": "Not what the listing said.",
        "requested_outcome": "refund_buyer",
    }
    url = f"/v1/orders/{order_id}/disputes"
    dispute = await s.api.call("POST", url, s.buyer, 201, json=body)
    await s.api.call("POST", f"/v1/disputes/{dispute['id']}/escalate", s.buyer)
    dispute_id: str = dispute["id"]
    return dispute_id


ADMIN_EMAIL = "measure-admin@example.com"


def prepare_database(directory: Path) -> None:
    """Point the settings at a new database in `directory`, migrated, with an admin made
    by the `marketplace` command (which runs its own event loop)."""
    os.environ.update(environment(directory))
    get_settings.cache_clear()
    for command in (["migrate"], ["create-admin", ADMIN_EMAIL, "--password", PASSWORD]):
        with contextlib.redirect_stdout(sys.stderr):
            done = marketplace(command)
        if done != 0:
            raise RuntimeError(f"marketplace {' '.join(command)} failed")


async def second_of(
    counter: StatementCounter,
    api: Api,
    method: str,
    urls: list[str],
    token: str,
    **kwargs: Any,
) -> Statements:
    """What the second of two like requests sends (the first warms any process cache)."""
    warm_up, measured = urls
    await api.call(method, warm_up, token, **kwargs)
    counter.current = Statements()
    await api.call(method, measured, token, **kwargs)
    counted, counter.current = counter.current, None
    return counted


async def measure_statements() -> dict[str, Statements]:
    app = create_app(get_settings())
    counter = StatementCounter()
    engine = app.state.database.engine
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    measured: dict[str, Statements] = {}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            s = await stage(Api(client), ADMIN_EMAIL)

            orders = [await paid_order(s) for _ in range(2)]
            disputes = [await escalated_dispute(s) for _ in range(2)]
            resolution = {"outcome": "refund_buyer", "note": "measured"}
            plan: list[tuple[str, str, list[str], str, dict[str, Any]]] = [
                ("GET /v1/orders/{id}", "GET", [f"/v1/orders/{o}" for o in orders], s.buyer, {}),
                (
                    "POST /v1/orders/{id}/ship",
                    "POST",
                    [f"/v1/orders/{o}/ship" for o in orders],
                    s.seller,
                    {"json": SHIPMENT},
                ),
                (
                    "POST /v1/admin/disputes/{id}/resolve",
                    "POST",
                    [f"/v1/admin/disputes/{d}/resolve" for d in disputes],
                    s.admin,
                    {"json": resolution, "idempotent": True},
                ),
            ]
            for label, method, urls, token, options in plan:
                measured[label] = await second_of(counter, s.api, method, urls, token, **options)
    finally:
        await app.state.database.dispose()
    return measured


# --- 4. duplicates ------------------------------------------------------------------------------


def duplicate_pairs(folder: Path) -> str:
    if shutil.which("duplicates") is None:
        return "n/a (no `duplicates` command here)"
    done = subprocess.run(
        ["duplicates", "--repo", str(folder), "--seconds", "120"],
        capture_output=True,
        text=True,
        check=False,
    )
    first = done.stdout.splitlines()[0] if done.stdout else done.stderr.strip()
    found = re.match(r"(\d+) pairs? of places", first)
    if found:
        return found.group(1)
    return "0" if first.startswith("no duplicates") else f"? ({first})"


# --- the report ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-sql", action="store_true", help="skip the SQL measurement")
    parser.add_argument("--show-sql", action="store_true", help="list each measured statement")
    args = parser.parse_args()
    root = Path(app_package.__file__).resolve().parent.parent
    tree = Tree(root)
    handlers = measure_handlers(tree)
    heavy = [h for h in handlers if len(h.calls) > 1]
    reads = measure_context_reads(tree)
    read_modules = {place.split(":")[0] for place in reads}
    statements: dict[str, Statements] = {}
    if not args.no_sql:
        with tempfile.TemporaryDirectory(prefix="measure-boundaries-") as directory:
            prepare_database(Path(directory))
            statements = asyncio.run(measure_statements())

    rows = [
        ("handlers with more than one service call", f"{len(heavy)} of {len(handlers)}"),
        (
            "places reading request context below the router",
            f"{len(reads)} in {len(read_modules)} modules",
        ),
        *((f"SQL statements: {label}", str(counted)) for label, counted in statements.items()),
        ("duplicate pairs in app/", duplicate_pairs(root / "app")),
        ("duplicate pairs in tests/", duplicate_pairs(root / "tests")),
    ]
    print(f"# Boundaries of {root} (app: {app_package.__file__})\n")
    print("| measure | value |\n| --- | --- |")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(f"\n## Handlers with more than one service call ({len(heavy)})")
    for handler in sorted(heavy, key=lambda h: (h.path, h.line)):
        print(f"- {handler.path}:{handler.line} {handler.name}: {', '.join(handler.calls)}")
    print(f"\n## Request context read below the router ({len(reads)})")
    for place in reads:
        print(f"- {place}")
    if args.show_sql:
        for label, counted in statements.items():
            print(f"\n## {label}: {counted}")
            for sent in counted.sent:
                print(f"- {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
