#!/usr/bin/env python3
"""Catalog search benchmark: the real HTTP stack beside the same SQL through asyncpg.

    python scripts/bench_search.py --listings 100000
    python scripts/bench_search.py --listings 1000000 --keep   # reuse a loaded database

It (re)creates a PostgreSQL database, runs the Alembic migrations, bulk-loads sellers, a
category tree and N listings (with 1-4 images each) with server-side SQL (INSERT ... SELECT
generate_series), starts
the API with uvicorn in a subprocess and, for seven representative searches, measures latency
percentiles and throughput with concurrent HTTP clients (lean keep-alive connections, see
KeepAliveClient; next to the floor any request pays, GET /healthz). Beside each it runs the
very SQL the API sends for that search (captured from the app's own `catalog.service.search`,
same text and parameters) through asyncpg at the same concurrency, and prints whether the
EXPLAIN plan of that SQL scans `listings` sequentially.

Aim (issue 3): API p95 <= 2 x SQL p95 + 5 ms; text search p95 < 50 ms at 1M listings.
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from bench_support import (
    CATALOG,
    DEFAULT_DATABASE_URL,
    api_server,
    app_session_settings,
    asyncpg_dsn,
    bench_settings,
    code_version,
    free_port,
    prepare_database,
    slugify,
)
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.catalog import service as catalog_service
from app.catalog.category_tree import CategoryTreeCache
from app.catalog.schemas import SearchSort
from app.core.db import create_engine
from app.core.pagination import PageParams
from app.core.storage import LocalDiskStorage

PAGE_SIZE = 20
DEEP_PAGES = 50
TEXT_SEARCH_AIM_MS = 50.0
TEXT_SEARCH_AIM_FROM = 1_000_000


# --- queries ----------------------------------------------------------------------------------


@dataclass
class Search:
    name: str
    params: dict[str, str]
    text: bool = False
    sql: str = ""
    args: tuple[Any, ...] = ()


@dataclass
class Load:
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return cuts[round(p) - 1]

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


class KeepAliveClient:
    """GET over one HTTP/1.1 keep-alive connection, with no more client-side work than a
    request needs. The API side is timed through this, not httpx: httpx spends about 0.6 ms
    of its own per request (measured against GET /healthz), which is the client's cost, not
    the API's, and the SQL side has no such cost in asyncpg."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, base_url: str) -> "KeepAliveClient":
        url = httpx.URL(base_url)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        return cls(reader, writer)

    async def get(self, target: str) -> tuple[int, bytes]:
        """The status and body of GET `target` (a path with its query string)."""
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in header_lines if line)
        if "content-length" not in headers:  # the API sends whole bodies, never chunked
            raise RuntimeError(f"no Content-Length in the response to {target}: {head!r}")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return int(status_line.split(" ", 2)[1]), body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def keep_alive_clients(base_url: str, count: int) -> AsyncIterator[list[KeepAliveClient]]:
    """`count` fresh connections (uvicorn closes idle ones after a few seconds)."""
    clients = [await KeepAliveClient.connect(base_url) for _ in range(count)]
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


@dataclass
class Plan:
    seq_scan_custom: bool
    seq_scan_generic: bool
    indexes: list[str]
    execution_ms: float
    jit: bool


async def pick_targets(url: str) -> tuple[str, str, str]:
    """Two root slugs and the seller with the most live listings (a power seller)."""
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        seller = await connection.fetchval(
            "SELECT seller_id FROM listings WHERE status = 'active' AND seller_approved"
            " GROUP BY seller_id ORDER BY count(*) DESC, seller_id LIMIT 1"
        )
    finally:
        await connection.close()
    return slugify(CATALOG[1][0]), slugify(CATALOG[0][0]), str(seller)


async def deep_cursor(client: httpx.AsyncClient) -> str:
    """Follow `next_cursor` DEEP_PAGES pages into the newest-first listing."""
    cursor: str | None = None
    for _ in range(DEEP_PAGES):
        params = {"sort": "newest", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/listings", params=params)
        response.raise_for_status()
        next_cursor = response.json()["next_cursor"]
        if next_cursor is None:
            break
        cursor = next_cursor
    if cursor is None:
        raise RuntimeError("too few listings to page through")
    return cursor


async def capture_sql(engine: AsyncEngine, search: Search) -> None:
    """The listings statement the API sends for `search`: the app's own service runs it here
    while a listener records the SQL text and parameters handed to asyncpg."""
    seen: list[tuple[str, tuple[Any, ...]]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        seen.append((statement, tuple(parameters or ())))

    params = search.params
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with async_sessionmaker(engine)() as session:
            await catalog_service.search(
                session,
                q=params.get("q"),
                category=params.get("category"),
                min_price=int(params["min_price"]) if "min_price" in params else None,
                max_price=int(params["max_price"]) if "max_price" in params else None,
                conditions=[],
                seller_id=uuid.UUID(params["seller"]) if "seller" in params else None,
                sort=SearchSort(params["sort"]) if "sort" in params else None,
                page=PageParams(limit=PAGE_SIZE, cursor=params.get("cursor")),
                facets=False,
                storage=LocalDiskStorage(Path(tempfile.gettempdir())),
                category_tree=CategoryTreeCache(timedelta(seconds=60)),
                currency="USD",
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    # The page's statement; a first page also counts its matches (over `capped_matches`).
    statements = [s for s in seen if "FROM listings" in s[0] and "capped_matches" not in s[0]]
    if len(statements) != 1:
        raise RuntimeError(f"expected one listings statement for {search.name}, saw {seen}")
    search.sql, search.args = statements[0]


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _plan_nodes(child)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text.replace("'", "''") + "'"


async def explain(connection: asyncpg.Connection, search: Search) -> Plan:
    """The plan PostgreSQL picks with these parameters (custom plan, as EXPLAIN ANALYZE runs
    it) and the generic plan a prepared statement may switch to after five executions."""
    raw = await connection.fetchval(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + search.sql, *search.args
    )
    custom = json.loads(raw)[0]
    nodes = list(_plan_nodes(custom["Plan"]))
    await connection.execute("PREPARE bench_generic AS " + search.sql)
    try:
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        arguments = ", ".join(_literal(a) for a in search.args)
        execute = f"EXECUTE bench_generic({arguments})" if search.args else "EXECUTE bench_generic"
        generic = json.loads(await connection.fetchval(f"EXPLAIN (FORMAT JSON) {execute}"))[0]
    finally:
        await connection.execute("RESET plan_cache_mode")
        await connection.execute("DEALLOCATE bench_generic")

    def seq_scans(plan_nodes: Sequence[dict[str, Any]]) -> bool:
        return any(
            n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "listings"
            for n in plan_nodes
        )

    indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    return Plan(
        seq_scan_custom=seq_scans(nodes),
        seq_scan_generic=seq_scans(list(_plan_nodes(generic["Plan"]))),
        indexes=indexes,
        execution_ms=float(custom["Execution Time"]),
        jit="JIT" in custom,
    )


# --- load generation --------------------------------------------------------------------------


async def run_load(
    call: Callable[[int], Awaitable[None]],
    *,
    concurrency: int,
    requests: int,
    duration: float | None,
) -> Load:
    """`concurrency` workers issuing `call` back to back, for `requests` calls in total or
    for `duration` seconds."""
    load = Load()
    remaining = requests
    deadline = time.perf_counter() + duration if duration is not None else None

    async def worker(index: int) -> None:
        nonlocal remaining
        while True:
            if deadline is None:
                if remaining <= 0:
                    return
                remaining -= 1
            elif time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            await call(index)
            load.latencies_ms.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for index in range(concurrency):
            group.create_task(worker(index))
    load.seconds = time.perf_counter() - started
    return load


@dataclass
class Row:
    search: Search
    api: Load
    sql: Load
    plan: Plan


def aim_met(row: Row, listings: int) -> str:
    api_p95, sql_p95 = row.api.percentile(95), row.sql.percentile(95)
    misses = []
    if api_p95 > 2 * sql_p95 + 5:
        misses.append(f">2x{sql_p95:.1f}+5")
    if row.search.text and listings >= TEXT_SEARCH_AIM_FROM and api_p95 >= TEXT_SEARCH_AIM_MS:
        misses.append(f">={TEXT_SEARCH_AIM_MS:.0f}ms")
    return "yes" if not misses else "NO " + ",".join(misses)


def render(
    rows: Sequence[Row], args: argparse.Namespace, targets: dict[str, str], floor: Load
) -> str:
    header = (
        "query",
        "api p50",
        "api p95",
        "api p99",
        "api req/s",
        "sql p50",
        "sql p95",
        "sql p99",
        "sql req/s",
        "aim met",
    )
    table: list[tuple[str, ...]] = [header]
    for row in rows:
        table.append(
            (
                row.search.name,
                *(f"{row.api.percentile(p):.1f}" for p in (50, 95, 99)),
                f"{row.api.rate:.0f}",
                *(f"{row.sql.percentile(p):.1f}" for p in (50, 95, 99)),
                f"{row.sql.rate:.0f}",
                aim_met(row, args.listings),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            c.ljust(w) if i in (0, len(cells) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    amount = f"{args.requests} requests" if args.duration is None else f"{args.duration:g} s"
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    out = [
        f"search benchmark: {args.listings:,} listings, concurrency {args.concurrency}, "
        f"{amount} per query and side, {args.workers} uvicorn worker(s), "
        f"{os.cpu_count()} CPUs (load average now {load}); latencies in ms",
        f"code: {args.code_version}",
        f"HTTP floor, GET /healthz through the same client: p50 {floor.percentile(50):.1f},"
        f" p95 {floor.percentile(95):.1f}, p99 {floor.percentile(99):.1f} ms,"
        f" {floor.rate:.0f} req/s",
        line(table[0]),
        "-+-".join("-" * w for w in widths),
        *(line(r) for r in table[1:]),
        "",
        f"targets: {', '.join(f'{k}={v}' for k, v in targets.items())}",
        "EXPLAIN (the SQL above, as the API sends it):",
    ]
    for row in rows:
        plan = row.plan
        out.append(
            f"  {row.search.name}: Seq Scan on listings: "
            f"{'YES' if plan.seq_scan_custom else 'no'} (custom plan), "
            f"{'YES' if plan.seq_scan_generic else 'no'} (generic plan); "
            f"indexes {', '.join(plan.indexes) or 'none'}; "
            f"EXPLAIN ANALYZE {plan.execution_ms:.1f} ms{' (incl. JIT)' if plan.jit else ''}"
        )
    return "\n".join(out)


async def benchmark(args: argparse.Namespace, base_url: str) -> str:
    url: str = args.database_url
    fashion, electronics, seller = await pick_targets(url)
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    engine = create_engine(bench_settings(url))
    session_settings = await app_session_settings(engine)
    connections = [
        await asyncpg.connect(asyncpg_dsn(url), timeout=10, server_settings=session_settings)
        for _ in range(args.concurrency)
    ]
    try:
        # Rare-ish words read thousands of heap pages; whether they are in PostgreSQL's own
        # buffers or only in the OS cache shows in their SQL times.
        shared_buffers = await connections[0].fetchval("SHOW shared_buffers")
        floor = await _measure_floor(args, base_url)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
            searches = [
                Search("text: q=iphone", {"q": "iphone"}, text=True),
                Search("text, rarer word: q=stratocaster", {"q": "stratocaster"}, text=True),
                # About ten listings carry this part number: the GIN index finds them directly.
                Search("text, rare part number: q=kx19997", {"q": "kx19997"}, text=True),
                Search(
                    f"text+category: q=leather&category={fashion}",
                    {"q": "leather", "category": fashion},
                    text=True,
                ),
                Search(
                    f"category+price sort: category={electronics}&1000..50000&price_asc",
                    {
                        "category": electronics,
                        "min_price": "1000",
                        "max_price": "50000",
                        "sort": "price_asc",
                    },
                ),
                Search("seller: seller=<top seller>", {"seller": seller}),
                Search(
                    f"deep page: newest, cursor {DEEP_PAGES} pages deep",
                    {"sort": "newest", "cursor": await deep_cursor(client)},
                ),
            ]
            rows = []
            for search in searches:
                await capture_sql(engine, search)
                rows.append(await _measure(args, client, base_url, connections, search))
                row = rows[-1]
                print(
                    f"  measured {search.name}: api p95 {row.api.percentile(95):.1f} ms,"
                    f" sql p95 {row.sql.percentile(95):.1f} ms",
                    flush=True,
                )
    finally:
        for connection in connections:
            await connection.close()
        await engine.dispose()
    targets = {"seller": seller, "root categories": f"{fashion}, {electronics}"}
    targets["app session settings"] = str(session_settings or "none")
    targets["PostgreSQL shared_buffers"] = shared_buffers
    return render(rows, args, targets, floor)


async def _measure_floor(args: argparse.Namespace, base_url: str) -> Load:
    """GET /healthz (no database, no dependencies): what any request costs through uvicorn,
    the middleware and routing, and the client."""
    async with keep_alive_clients(base_url, args.concurrency) as http:
        return await _time_gets(args, http, "/healthz")


async def _time_gets(args: argparse.Namespace, http: list[KeepAliveClient], target: str) -> Load:
    """A warm-up, then timed GETs of `target` (each must answer 200). The warm-up also lets
    every pooled database connection of the API prepare its statements (and PostgreSQL
    settle on its plans), as in steady-state traffic."""

    async def get(index: int) -> None:
        status_code, body = await http[index].get(target)
        if status_code != 200:
            raise RuntimeError(f"{target}: HTTP {status_code}: {body[:300]!r}")

    await run_load(get, requests=2 * args.concurrency, concurrency=args.concurrency, duration=None)
    return await run_load(
        get, requests=args.requests, concurrency=args.concurrency, duration=args.duration
    )


async def _measure(
    args: argparse.Namespace,
    client: httpx.AsyncClient,
    base_url: str,
    connections: list[asyncpg.Connection],
    search: Search,
) -> Row:
    # The SQL must be the API's: the same listings in the same order.
    response = await client.get("/v1/listings", params=search.params)
    response.raise_for_status()
    api_ids = [item["id"] for item in response.json()["items"]]
    sql_ids = [str(r["id"]) for r in await connections[0].fetch(search.sql, *search.args)]
    if api_ids != sql_ids[:PAGE_SIZE] or not api_ids:
        raise RuntimeError(f"{search.name}: API and SQL disagree ({api_ids} vs {sql_ids})")

    async with keep_alive_clients(base_url, args.concurrency) as http:
        api = await _time_gets(args, http, f"/v1/listings?{urlencode(search.params)}")

    async def sql_call(index: int) -> None:
        await connections[index].fetch(search.sql, *search.args)

    await run_load(
        sql_call, requests=2 * args.concurrency, concurrency=args.concurrency, duration=None
    )
    sql = await run_load(
        sql_call, requests=args.requests, concurrency=args.concurrency, duration=args.duration
    )
    plan = await explain(connections[0], search)
    return Row(search, api, sql, plan)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--listings", type=int, default=100_000, help="listings to load")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=400, help="requests per query and side")
    parser.add_argument("--duration", type=float, help="seconds per query and side instead")
    parser.add_argument("--keep", action="store_true", help="reuse a database of this size")
    parser.add_argument("--port", type=int, default=0, help="API port (0: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    if args.listings < 2_000:
        parser.error("--listings must be at least 2000 (the deep page needs 50 pages)")
    if (
        args.concurrency < 1
        or args.requests < 2
        or (args.duration is not None and args.duration <= 0)
    ):
        parser.error("--concurrency, --requests and --duration must be positive")
    if not make_url(args.database_url).drivername.startswith("postgresql"):
        parser.error("--database-url must be PostgreSQL")

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(143)  # unwinds through the server's cleanup

    signal.signal(signal.SIGTERM, terminate)
    args.code_version = code_version()  # before the load: the code the run starts with
    prepare_database(args)
    print("starting the API and measuring", flush=True)
    with api_server(args.database_url, args.port or free_port(), args.workers) as base_url:
        table = asyncio.run(benchmark(args, base_url))
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
