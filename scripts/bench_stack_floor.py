"""The stack's floor for checkout + pay (issue 16): what the statements alone cost, with no
application logic, through each layer the API is built of. Read it beside
bench_checkout.py: its asyncpg baseline is the first row here, and no API on this stack can
do a pair faster than the last row.

A pair is two transactions of trivial statements (`SELECT $1 + 1`), 14 then 15: the API's
checkout and pay statement counts (tests/test_statement_budgets.py). Rows, the same run:

1. asyncpg, in-process (a pool, no HTTP): bench_checkout's baseline, minus its SQL's work;
2. SQLAlchemy AsyncSession, in-process: one statement built once, bound per call;
3. HTTP, bare ASGI + asyncpg (`stack_floor_apps:bare` under uvicorn, one process);
4. HTTP, FastAPI + SQLAlchemy (`stack_floor_apps:framework`, one process): a validated body,
   a response model and a session dependency that commits, as the API's routes have.

Then the same for a read, beside bench_reads.py: `GET /row/{id}`, one row of a listing page's
size in one statement on an autocommit session, driven by wrk at 1 and 16 connections through
the bare app, FastAPI over asyncpg, and FastAPI over SQLAlchemy.

    .venv/bin/python scripts/bench_stack_floor.py [--pairs 2000] [--concurrency 32]
        [--read-seconds 8]
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from bench_reads import WRK_SCRIPT, Endpoint, wrk
from bench_support import ROOT, asyncpg_dsn, free_port, server
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from stack_floor_apps import CPU_PATH, POOL_SIZE, READY_PATH, ROW_PATH, STATEMENTS

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SQL = "SELECT $1::int + 1"
COUNTS = (STATEMENTS["/checkout"], STATEMENTS["/pay"])

Pair = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Row:
    stack: str
    pairs: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float
    """What the process doing the stack's work used: the server's for the HTTP rows."""

    @property
    def per_second(self) -> float:
        return self.pairs / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    stack: str,
    pair: Pair,
    pairs: int,
    concurrency: int,
    cpu: Callable[[], Awaitable[float]],
) -> Row:
    """`pairs` pairs from `concurrency` clients at once, after a warm-up; `cpu` tells the
    CPU seconds used so far by the process that does the work."""
    for n in range(concurrency):
        await pair(n)
    latencies: list[float] = []
    queue = iter(range(pairs))

    async def client() -> None:
        for n in queue:
            started = time.perf_counter()
            await pair(n)
            latencies.append((time.perf_counter() - started) * 1000)

    cpu_before = await cpu()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return Row(stack, pairs, seconds, latencies, await cpu() - cpu_before)


async def in_process_rows(url: str, pairs: int, concurrency: int) -> list[Row]:
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=POOL_SIZE, max_size=POOL_SIZE)

    async def asyncpg_pair(n: int) -> None:
        for count in COUNTS:
            async with pool.acquire() as connection, connection.transaction():
                for i in range(count):
                    await connection.fetchval(SQL, n + i)

    engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    statement = select(bindparam("n", type_=Integer) + 1)

    async def sqlalchemy_pair(n: int) -> None:
        for count in COUNTS:
            async with sessions() as session, session.begin():
                for i in range(count):
                    await session.execute(statement, {"n": n + i})

    async def own_cpu() -> float:
        return time.process_time()

    try:
        return [
            await measure("asyncpg, in-process", asyncpg_pair, pairs, concurrency, own_cpu),
            await measure(
                "SQLAlchemy session, in-process", sqlalchemy_pair, pairs, concurrency, own_cpu
            ),
        ]
    finally:
        await pool.close()
        await engine.dispose()


async def http_row(stack: str, base_url: str, pairs: int, concurrency: int) -> Row:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def http_pair(n: int) -> None:
            for path in STATEMENTS:
                response = await client.post(path, json={"n": n})
                response.raise_for_status()

        async def server_cpu() -> float:
            response = await client.get(CPU_PATH)
            response.raise_for_status()
            return float(response.json()["cpu"])

        return await measure(stack, http_pair, pairs, concurrency, server_cpu)


@contextmanager
def floor_app(url: str, app: str) -> Iterator[str]:
    """`stack_floor_apps:<app>` under uvicorn, one process; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", f"stack_floor_apps:{app}"]
    command += ["--app-dir", str(ROOT / "scripts"), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    environment = {**os.environ, "FLOOR_DATABASE_URL": url}
    with server(command, port, env=environment, cwd=ROOT, ready_path=READY_PATH) as base:
        yield base


def http_rows(url: str, pairs: int, concurrency: int) -> list[Row]:
    rows = []
    for stack, app in (
        ("HTTP: bare ASGI + asyncpg", "bare"),
        ("HTTP: FastAPI + SQLAlchemy", "framework"),
    ):
        with floor_app(url, app) as base:
            rows.append(asyncio.run(http_row(stack, base, pairs, concurrency)))
    return rows


READ_STACKS = (
    ("bare ASGI + asyncpg", "bare"),
    ("FastAPI + asyncpg", "framework_asyncpg"),
    ("FastAPI + SQLAlchemy session", "framework"),
)
READ_CLIENTS = (1, 16)


def read_table(url: str, seconds: float) -> str:
    """wrk on `GET /row/{id}` (random ids) of each read stack; req/s beside the bare app's."""
    endpoint = Endpoint("row", "GET /row/{id}", [f"{ROW_PATH}{uuid.uuid4()}" for _ in range(500)])
    rates: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        (work / "reads.lua").write_text(WRK_SCRIPT)
        for stack, app in READ_STACKS:
            with floor_app(url, app) as base:
                wrk(base, endpoint, max(READ_CLIENTS), 1, work)  # warm-up
                for clients in READ_CLIENTS:
                    rates[stack, clients] = wrk(base, endpoint, clients, seconds, work).rate
    lines = [
        f"one read, GET /row/{{id}} (one statement, autocommit), wrk 1 thread, {seconds:g} s"
        " per row, one uvicorn process",
        f"{'stack':<30} | " + " | ".join(f"{c:>2} client(s) req/s, ÷ bare" for c in READ_CLIENTS),
        f"{'-' * 30}-+-" + "-+-".join("-" * 26 for _ in READ_CLIENTS),
    ]
    bare = READ_STACKS[0][0]
    for stack, _ in READ_STACKS:
        cells = [
            f"{rates[stack, c]:>13,.0f}, {rates[stack, c] / rates[bare, c]:>8.2f}x"
            for c in READ_CLIENTS
        ]
        lines.append(f"{stack:<30} | " + " | ".join(f"{cell:>26}" for cell in cells))
    return "\n".join(lines)


def table(rows: Sequence[Row], concurrency: int) -> str:
    floor = rows[0].per_second
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        f"stack floor: checkout+pay as {COUNTS[0]} + {COUNTS[1]} trivial statements in two"
        f" transactions, {concurrency} concurrent clients, {rows[0].pairs} pairs per row,"
        f" {os.cpu_count()} CPUs (load average now {load})",
        f"{'stack':<32} | {'pairs/s':>8} | {'x asyncpg':>9} | {'pair p50/p95/p99 ms':>22}"
        f" | {'CPU ms/pair':>11}",
        f"{'-' * 32}-+-{'-' * 8}-+-{'-' * 9}-+-{'-' * 22}-+-{'-' * 11}",
    ]
    for row in rows:
        spread = " / ".join(f"{row.percentile(q):.1f}" for q in (0.5, 0.95, 0.99))
        lines.append(
            f"{row.stack:<32} | {row.per_second:>8.1f} | {row.per_second / floor:>8.2f}x"
            f" | {spread:>22} | {row.cpu_seconds / row.pairs * 1000:>11.2f}"
        )
    lines.append(
        "CPU ms/pair: of the process doing the stack's work (in-process rows: this script's;"
        " HTTP rows: the server's, the client's not counted)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--pairs", type=int, default=2000, help="pairs per row")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--read-seconds", type=float, default=8.0, help="seconds per wrk run")
    args = parser.parse_args(argv)
    if args.concurrency > POOL_SIZE:
        parser.error(f"--concurrency is at most the pools' size, {POOL_SIZE}")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    rows = asyncio.run(in_process_rows(args.database_url, args.pairs, args.concurrency))
    rows += http_rows(args.database_url, args.pairs, args.concurrency)
    print(table(rows, args.concurrency))
    print()
    print(read_table(args.database_url, args.read_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
