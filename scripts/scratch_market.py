"""A scratch marketplace for the scripts that load it (bench_checkout.py, soak_money.py).

Recreates a database on loopback PostgreSQL only, runs the migrations, starts API and worker
processes (`marketplace serve`, `marketplace worker`) in subprocesses and seeds the market
over HTTP as its users would: an admin, approved sellers, a category, live listings, buyers.
"""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, TypeVar

# No stubs; `unused-ignore` keeps this valid where mypy is told to skip asyncpg instead.
import httpx
from bench_support import recreate_database
from sqlalchemy.engine import URL, make_url

from app.cli import migrate
from app.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
PASSWORD = "bench-password-123"
CURRENCY = "USD"
ADDRESS = {
    "name": "Bench Buyer",
    "line1": "1 Loopback Lane",
    "city": "Localhost",
    "postal_code": "12345",
    "country": "US",
}
# Cheap password hashing for the hundreds of bench accounts (never in production).
HASH_COST = {"time_cost": 1, "memory_kib": 8, "parallelism": 1}
SERVER_START_TIMEOUT = 60.0
HTTP_TIMEOUT = 120.0

T = TypeVar("T")


class BenchError(RuntimeError):
    """The script cannot go on (setup failed, a server died)."""


# --- the database -----------------------------------------------------------------------------


def checked_url(raw: str) -> URL:
    url = make_url(raw)
    if url.drivername != "postgresql+asyncpg":
        raise BenchError("--database-url must be postgresql+asyncpg://...")
    if (url.host or "localhost") not in LOOPBACK_HOSTS:
        raise BenchError("this script drops and recreates its database: loopback hosts only")
    name = url.database or ""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name in {"postgres", "template0", "template1"}:
        raise BenchError(f"refusing to recreate database {name!r}")
    return url


def bench_settings(url: URL) -> Settings:
    return Settings(
        database_url=url.render_as_string(hide_password=False),
        log_level="WARNING",
        log_json=False,
        run_worker_in_process=False,
        password_hash_time_cost=HASH_COST["time_cost"],
        password_hash_memory_kib=HASH_COST["memory_kib"],
        password_hash_parallelism=HASH_COST["parallelism"],
    )


def fresh_database(url: URL) -> str:
    """Recreates and migrates the database and makes an admin; returns the admin's email."""
    asyncio.run(recreate_database(url.render_as_string(hide_password=False)))
    settings = bench_settings(url)
    migrate(settings)
    return asyncio.run(create_admin(settings))


# --- processes --------------------------------------------------------------------------------


def process_env(url: URL, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the API and worker processes: this database, cheap hashing, quiet
    logs; `extra` (MARKETPLACE_* settings) on top."""
    return {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": url.render_as_string(hide_password=False),
        "MARKETPLACE_RUN_WORKER_IN_PROCESS": "false",
        "MARKETPLACE_LOG_LEVEL": "WARNING",
        "MARKETPLACE_PASSWORD_HASH_TIME_COST": str(HASH_COST["time_cost"]),
        "MARKETPLACE_PASSWORD_HASH_MEMORY_KIB": str(HASH_COST["memory_kib"]),
        "MARKETPLACE_PASSWORD_HASH_PARALLELISM": str(HASH_COST["parallelism"]),
        # The run must not outlive its tokens.
        "MARKETPLACE_ACCESS_TOKEN_TTL": "7200",
        # Every account is registered and driven from one loopback address, which the
        # per-address budgets (10 registrations an hour) would stop after a few.
        "MARKETPLACE_RATE_LIMITS_ENABLED": "false",
        **(extra or {}),
    }


def stop(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM, then SIGKILL if it does not go within 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextmanager
def api_server(
    url: URL,
    port: int,
    *,
    env: Mapping[str, str] | None = None,
    output: IO[bytes] | None = None,
    workers: int = 1,
) -> Iterator[str]:
    """The real API (uvicorn, `workers` processes) on loopback; stopped however we leave.
    `env` replaces `process_env(url)`; `output` takes its stdout and stderr."""
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        cwd=PROJECT_ROOT,
        env=dict(env) if env is not None else process_env(url),
        stdout=output,
        stderr=output,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def start_worker(
    env: Mapping[str, str], output: IO[bytes] | None = None
) -> "subprocess.Popen[bytes]":
    """A `marketplace worker` process; the caller stops it (`stop`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=PROJECT_ROOT,
        env=dict(env),
        stdout=output,
        stderr=output,
    )


async def wait_until_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.25)
    raise BenchError(f"the API did not become ready within {SERVER_START_TIMEOUT:.0f}s")


def stop_on_sigterm() -> None:
    """A SIGTERM unwinds like Ctrl-C, so the subprocesses are stopped on the way out."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


# --- seeding through the API ------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    user_id: uuid.UUID
    email: str
    headers: dict[str, str]


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


async def bounded(limit: int, jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def login(client: httpx.AsyncClient, email: str) -> Account:
    tokens = expect(
        await client.post("/v1/auth/token", data={"username": email, "password": PASSWORD}), 200
    )
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = expect(await client.get("/v1/me", headers=headers), 200)
    return Account(uuid.UUID(me["id"]), email, headers)


async def register(client: httpx.AsyncClient, label: str) -> Account:
    email = f"{label}-{uuid.uuid4().hex[:10]}@bench.example"
    body = {"email": email, "password": PASSWORD, "display_name": label}
    expect(await client.post("/v1/auth/register", json=body), 201)
    return await login(client, email)


async def create_admin(settings: Settings) -> str:
    """Through the service layer, as the `create-admin` command does."""
    from app.auth.service import create_admin as create_admin_user
    from app.core.db import Database
    from app.core.process import configure_process

    configure_process(settings)
    email = f"admin-{uuid.uuid4().hex[:8]}@bench.example"
    database = Database(settings)
    try:
        async with database.session_scope() as session:
            await create_admin_user(session, email=email, password=PASSWORD, name="Bench Admin")
    finally:
        await database.dispose()
    return email


async def approved_seller(
    client: httpx.AsyncClient,
    admin: Account,
    index: int,
    *,
    payout_account: str = "DE89370400440532013000",
) -> Account:
    """A seller whose shop the admin approved (the sandbox fails payouts to an account
    ending in FAIL)."""
    seller = await register(client, f"seller{index}")
    application = {
        "shop_name": f"Bench shop {index} {uuid.uuid4().hex[:6]}",
        "description": "Benchmark goods",
        "legal_name": f"Seller {index}",
        "seller_type": "individual",
        "country": "DE",
        "contact_email": "shop@bench.example",
        "contact_phone": "+49 30 1234567",
        "payout_account": payout_account,
    }
    profile = expect(
        await client.post("/v1/sellers", json=application, headers=seller.headers), 201
    )
    expect(
        await client.post(f"/v1/admin/sellers/{profile['id']}/approve", headers=admin.headers), 200
    )
    return seller


async def leaf_category(client: httpx.AsyncClient, admin: Account) -> str:
    suffix = uuid.uuid4().hex[:6]
    root = expect(
        await client.post(
            "/v1/admin/categories", json={"name": f"Bench {suffix}"}, headers=admin.headers
        ),
        201,
    )
    leaf = expect(
        await client.post(
            "/v1/admin/categories",
            json={"name": f"Bench leaf {suffix}", "parent_id": root["id"]},
            headers=admin.headers,
        ),
        201,
    )
    leaf_id: str = leaf["id"]
    return leaf_id


async def live_listing(
    client: httpx.AsyncClient,
    seller: Account,
    category_id: str,
    index: int,
    quantity: int,
    *,
    price: int | None = None,
    shipping_fee: int = 299,
) -> uuid.UUID:
    """A published listing; its price is 1000 + `index` minor units unless given."""
    body = {
        "title": f"Bench item {index}",
        "description": "A thing to buy, over and over",
        "price": {"amount": 1000 + index if price is None else price, "currency": CURRENCY},
        "shipping_fee": {"amount": shipping_fee, "currency": CURRENCY},
        "quantity": quantity,
        "condition": "new",
        "category_id": category_id,
    }
    created = expect(await client.post("/v1/listings", json=body, headers=seller.headers), 201)
    published = expect(
        await client.post(f"/v1/listings/{created['id']}/publish", headers=seller.headers), 200
    )
    if published["status"] != "active":
        raise BenchError(f"listing {created['id']} is {published['status']}, not active")
    return uuid.UUID(created["id"])
