"""Checkout + pay under load, through the real HTTP stack, beside a raw-asyncpg baseline.

    python scripts/bench_checkout.py [--database-url URL] [--concurrency 32] [--requests 2000]
                                     [--api-workers 1] [--pgbouncer]

Recreates the database (loopback PostgreSQL only), runs the migrations, starts the API with
uvicorn in a subprocess and seeds it over HTTP: an admin, 50 approved sellers, a category,
2,000 listings (1,000 units each), one hot listing (1,000,000 units) and 200 buyers. Then,
with `--concurrency` clients, `--requests` checkout+pay pairs per scenario:

  (a) distinct  every pair buys one unit of a different listing (no row contention)
  (b) hot       every pair buys one unit of the same listing (all contend for one row)

The baseline does the same writes per purchase with asyncpg and no HTTP, ORM or framework:
stock compare-and-set, idempotency rows, checkout, order, line, events, provider operation,
ledger transaction and entries, status updates. `1 tx` runs a purchase in one transaction as
the brief for this benchmark asks (so the hot row stays locked through the payment writes);
`2 tx` commits after the checkout part, as the API does. After each run the oversell check
(negative stock; sold units versus ordered units, per listing) and the ledger reconcile
endpoint are reported. Latencies are client-side wall times; the client shares the machine's
cores with the server and PostgreSQL.

`--api-workers N` serves the API with N uvicorn processes (`marketplace serve --workers N`);
`--pgbouncer` puts a private PgBouncer in transaction mode between the API and PostgreSQL
(`scripts/local_pgbouncer.py`, with `MARKETPLACE_DATABASE_TRANSACTION_POOLER=true`). The
baseline always connects directly.
"""

import argparse
import asyncio
import hashlib
import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

# No stubs; `unused-ignore` keeps this valid where mypy is told to skip asyncpg instead.
import asyncpg  # type: ignore[import-untyped, unused-ignore]
import httpx
from bench_support import asyncpg_dsn, free_port
from local_pgbouncer import local_pgbouncer
from scratch_market import (
    ADDRESS,
    CURRENCY,
    HTTP_TIMEOUT,
    Account,
    BenchError,
    api_server,
    approved_seller,
    bounded,
    checked_url,
    expect,
    fresh_database,
    leaf_category,
    live_listing,
    load,
    login,
    process_env,
    register,
    stop_on_sigterm,
    wait_until_ready,
)
from sqlalchemy.engine import URL, make_url

from app.core.ids import uuid7

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/marketplace_bench_checkout"
SELLERS = 50
LISTINGS = 2000
LISTING_STOCK = 1000
HOT_STOCK = 1_000_000
BUYERS = 200
PAYMENT_EXPIRY = timedelta(minutes=30)
SHIP_BY = timedelta(days=5)
IDEMPOTENCY_TTL = timedelta(hours=24)


# --- setup ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--requests", type=int, default=2000, help="checkout+pay pairs per scenario"
    )
    parser.add_argument("--port", type=int, default=0, help="API port (0: a free one)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the pair mix")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument(
        "--pgbouncer", action="store_true", help="the API through PgBouncer (transaction mode)"
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.requests < 1 or args.api_workers < 1:
        parser.error("--concurrency, --requests and --api-workers must be positive")
    return args


# --- seeding through the API ------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    admin: Account
    buyers: list[Account]
    listings: list[uuid.UUID]
    hot: uuid.UUID


async def seed(client: httpx.AsyncClient, admin_email: str, concurrency: int) -> Market:
    admin = await login(client, admin_email)
    sellers = await bounded(
        concurrency, [partial(approved_seller, client, admin, i) for i in range(SELLERS)]
    )
    category_id = await leaf_category(client, admin)
    listings = await bounded(
        concurrency,
        [
            partial(live_listing, client, sellers[i % SELLERS], category_id, i, LISTING_STOCK)
            for i in range(LISTINGS)
        ],
    )
    hot = await live_listing(client, sellers[0], category_id, LISTINGS, HOT_STOCK)
    buyers = await bounded(
        concurrency, [partial(register, client, f"buyer{i}") for i in range(BUYERS)]
    )
    return Market(admin=admin, buyers=buyers, listings=listings, hot=hot)


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Run:
    stack: str
    scenario: str
    checkout_ms: list[float] = field(default_factory=list)
    pay_ms: list[float] = field(default_factory=list)
    pair_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    negative_stock: int = -1
    inconsistent: int = -1
    hot_sold: int = -1
    hot_ordered: int = -1
    reconcile: str = "?"

    @property
    def pairs(self) -> int:
        return len(self.pair_ms)

    @property
    def throughput(self) -> float:
        return self.pairs / self.elapsed if self.elapsed else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def triple(values: Sequence[float]) -> str:
    return "/".join(f"{percentile(values, q):.1f}" for q in (50, 95, 99))


PairFn = Callable[[int, Run], Awaitable[None]]


async def drive(run: Run, requests: int, concurrency: int, pair: PairFn) -> None:
    """`concurrency` clients take pair numbers from one counter until `requests` are done."""
    counter = iter(range(requests))

    async def client_loop() -> None:
        for index in counter:  # shared iterator: each pair number is taken once
            try:
                await pair(index, run)
            except (httpx.HTTPError, asyncpg.PostgresError, OSError) as error:
                run.errors[type(error).__name__] += 1

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - started


def pick_listing(market: Market, scenario: str, order: list[uuid.UUID], index: int) -> uuid.UUID:
    return market.hot if scenario == "hot" else order[index % len(order)]


def http_pair(
    client: httpx.AsyncClient, market: Market, scenario: str, rng: random.Random
) -> PairFn:
    order = random.Random(rng.random()).sample(market.listings, len(market.listings))

    async def pair(index: int, run: Run) -> None:
        buyer = market.buyers[rng.randrange(len(market.buyers))]
        listing_id = pick_listing(market, scenario, order, index)
        body = {
            "items": [{"listing_id": str(listing_id), "quantity": 1}],
            "shipping_address": ADDRESS,
        }
        started = time.perf_counter()
        checkout = await client.post(
            "/v1/checkout",
            json=body,
            headers={**buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        checked_out = time.perf_counter()
        if checkout.status_code != 201:
            run.errors[f"checkout {checkout.status_code}"] += 1
            return
        paid = await client.post(
            f"/v1/checkouts/{checkout.json()['id']}/pay",
            json={"payment_token": "tok_success"},
            headers={**buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        finished = time.perf_counter()
        if paid.status_code != 200:
            run.errors[f"pay {paid.status_code}"] += 1
            return
        run.checkout_ms.append((checked_out - started) * 1000)
        run.pay_ms.append((finished - checked_out) * 1000)
        run.pair_ms.append((finished - started) * 1000)

    return pair


# --- the raw asyncpg baseline -----------------------------------------------------------------

TAKE_STOCK = """
UPDATE listings SET quantity = quantity - $2, updated_at = $3
WHERE id = $1 AND quantity >= $2 AND status = 'active' AND seller_approved
RETURNING seller_id, title, price_amount, shipping_fee_amount, quantity
"""
SELL_OUT = "UPDATE listings SET status = 'sold_out', updated_at = $2 WHERE id = $1"
INSERT_IDEMPOTENCY = """
INSERT INTO idempotency_records
    (id, scope, key, fingerprint, status_code, response_body, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
INSERT_CHECKOUT = """
INSERT INTO checkouts (id, buyer_id, status, currency, total_amount, expires_at, paid_at,
                       created_at, updated_at)
VALUES ($1, $2, 'pending_payment', $3, $4, $5, NULL, $6, $6)
"""
INSERT_ORDER = """
INSERT INTO orders (id, checkout_id, buyer_id, seller_id, status, currency, items_amount,
                    shipping_amount, total_amount, shipping_address, created_at, updated_at)
VALUES ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9, $10, $10)
"""
INSERT_LINE = """
INSERT INTO order_lines (id, order_id, listing_id, title, unit_price, quantity, shipping_fee)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
INSERT_EVENT = """
INSERT INTO order_events (id, order_id, actor_id, actor_role, action, from_status, to_status,
                          details, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, '{}', $8)
"""
LOCK_CHECKOUT = "SELECT status FROM checkouts WHERE id = $1 FOR UPDATE"
INSERT_CAPTURE = """
INSERT INTO provider_operations (id, kind, reference, amount, currency, succeeded, created_at)
VALUES ($1, 'capture', $2, $3, $4, true, $5)
"""
INSERT_TRANSACTION = """
INSERT INTO ledger_transactions (id, kind, order_id, payout_id, memo, created_at)
VALUES ($1, 'payment', NULL, NULL, $2, $3)
"""
INSERT_ENTRIES = """
INSERT INTO ledger_entries (id, transaction_id, account, owner_id, order_id, amount, currency,
                            created_at)
VALUES ($1, $3, 'external', NULL, NULL, -$5::bigint, $6, $7),
       ($2, $3, 'escrow', NULL, $4, $5, $6, $7)
"""
PAY_ORDER = """
UPDATE orders SET status = 'paid', paid_at = $2, ship_by = $3, updated_at = $2
WHERE id = $1 AND status = 'pending_payment'
"""
PAY_CHECKOUT = """
UPDATE checkouts SET status = 'paid', paid_at = $2, updated_at = $2
WHERE id = $1 AND status = 'pending_payment'
"""


class OutOfStock(Exception):
    pass


def _fingerprint(path: str, body: dict[str, Any]) -> tuple[str, str]:
    payload = json.dumps(body, separators=(",", ":"))
    return payload, hashlib.sha256(f"POST {path}\n{payload}".encode()).hexdigest()


async def raw_checkout(
    connection: Any, buyer: Account, listing_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID, int]:
    """The checkout's writes; returns (checkout id, order id, total)."""
    at = datetime.now(UTC)
    row = await connection.fetchrow(TAKE_STOCK, listing_id, 1, at)
    if row is None:
        raise OutOfStock(str(listing_id))
    if row["quantity"] == 0:
        await connection.execute(SELL_OUT, listing_id, at)
    checkout_id, order_id = uuid7(), uuid7()
    items, shipping = row["price_amount"], row["shipping_fee_amount"]
    total = items + shipping
    body = {"items": [{"listing_id": str(listing_id), "quantity": 1}], "shipping_address": ADDRESS}
    payload, fingerprint = _fingerprint("/v1/checkout", body)
    await connection.execute(
        INSERT_IDEMPOTENCY,
        uuid7(),
        str(buyer.user_id),
        uuid.uuid4().hex,
        fingerprint,
        201,
        payload,
        at,
        at + IDEMPOTENCY_TTL,
    )
    await connection.execute(
        INSERT_CHECKOUT, checkout_id, buyer.user_id, CURRENCY, total, at + PAYMENT_EXPIRY, at
    )
    await connection.execute(
        INSERT_ORDER,
        order_id,
        checkout_id,
        buyer.user_id,
        row["seller_id"],
        CURRENCY,
        items,
        shipping,
        total,
        json.dumps(ADDRESS),
        at,
    )
    await connection.execute(
        INSERT_LINE, uuid7(), order_id, listing_id, row["title"], items, 1, shipping
    )
    await connection.execute(
        INSERT_EVENT,
        uuid7(),
        order_id,
        buyer.user_id,
        "buyer",
        "create",
        None,
        "pending_payment",
        at,
    )
    return checkout_id, order_id, total


async def raw_pay(
    connection: Any, buyer: Account, checkout_id: uuid.UUID, order_id: uuid.UUID, total: int
) -> None:
    at = datetime.now(UTC)
    await connection.fetchval(LOCK_CHECKOUT, checkout_id)
    payload, fingerprint = _fingerprint(
        f"/v1/checkouts/{checkout_id}/pay", {"payment_token": "tok_success"}
    )
    await connection.execute(
        INSERT_IDEMPOTENCY,
        uuid7(),
        str(buyer.user_id),
        uuid.uuid4().hex,
        fingerprint,
        200,
        payload,
        at,
        at + IDEMPOTENCY_TTL,
    )
    reference = f"checkout:{checkout_id}"
    await connection.execute(INSERT_CAPTURE, uuid7(), reference, total, CURRENCY, at)
    transaction_id = uuid7()
    await connection.execute(INSERT_TRANSACTION, transaction_id, reference, at)
    await connection.execute(
        INSERT_ENTRIES, uuid7(), uuid7(), transaction_id, order_id, total, CURRENCY, at
    )
    await connection.execute(PAY_ORDER, order_id, at, at + SHIP_BY)
    await connection.execute(
        INSERT_EVENT,
        uuid7(),
        order_id,
        buyer.user_id,
        "system",
        "pay",
        "pending_payment",
        "paid",
        at,
    )
    await connection.execute(PAY_CHECKOUT, checkout_id, at)


def raw_pair(
    pool: Any, market: Market, scenario: str, rng: random.Random, transactions: int
) -> PairFn:
    order = random.Random(rng.random()).sample(market.listings, len(market.listings))

    async def pair(index: int, run: Run) -> None:
        buyer = market.buyers[rng.randrange(len(market.buyers))]
        listing_id = pick_listing(market, scenario, order, index)
        async with pool.acquire() as connection:
            started = time.perf_counter()
            try:
                if transactions == 1:
                    async with connection.transaction():
                        checkout_id, order_id, total = await raw_checkout(
                            connection, buyer, listing_id
                        )
                        checked_out = time.perf_counter()
                        await raw_pay(connection, buyer, checkout_id, order_id, total)
                else:
                    async with connection.transaction():
                        checkout_id, order_id, total = await raw_checkout(
                            connection, buyer, listing_id
                        )
                    checked_out = time.perf_counter()
                    async with connection.transaction():
                        await raw_pay(connection, buyer, checkout_id, order_id, total)
            except OutOfStock:
                run.errors["out of stock"] += 1
                return
            finished = time.perf_counter()
        run.checkout_ms.append((checked_out - started) * 1000)
        run.pay_ms.append((finished - checked_out) * 1000)
        run.pair_ms.append((finished - started) * 1000)

    return pair


# --- checks -----------------------------------------------------------------------------------

INCONSISTENT_STOCK = """
SELECT count(*) FROM listings l
LEFT JOIN (
    SELECT ol.listing_id, sum(ol.quantity) AS ordered
    FROM order_lines ol JOIN orders o ON o.id = ol.order_id
    WHERE o.status <> 'cancelled'
    GROUP BY ol.listing_id
) sold ON sold.listing_id = l.id
WHERE l.quantity + coalesce(sold.ordered, 0)
      <> CASE WHEN l.id = $1::uuid THEN $2::bigint ELSE $3::bigint END
"""
HOT_ORDERED = """
SELECT coalesce(sum(ol.quantity), 0) FROM order_lines ol JOIN orders o ON o.id = ol.order_id
WHERE ol.listing_id = $1 AND o.status <> 'cancelled'
"""


async def check(pool: Any, client: httpx.AsyncClient, market: Market, run: Run) -> None:
    async with pool.acquire() as connection:
        run.negative_stock = await connection.fetchval(
            "SELECT count(*) FROM listings WHERE quantity < 0"
        )
        run.inconsistent = await connection.fetchval(
            INCONSISTENT_STOCK, market.hot, HOT_STOCK, LISTING_STOCK
        )
        hot_left = await connection.fetchval(
            "SELECT quantity FROM listings WHERE id = $1", market.hot
        )
        run.hot_sold = HOT_STOCK - hot_left
        run.hot_ordered = await connection.fetchval(HOT_ORDERED, market.hot)
    report = expect(
        await client.get("/v1/admin/ledger/reconcile", headers=market.admin.headers), 200
    )
    run.reconcile = "ok" if report["ok"] else f"{len(report['violations'])} violations"


# --- report -----------------------------------------------------------------------------------

HEADER = (
    f"{'stack':<16} {'scenario':<9} {'pairs':>6} {'err':>4} {'pairs/s':>8}  "
    f"{'checkout p50/p95/p99 ms':>24}  {'pay p50/p95/p99 ms':>22}  {'pair p50/p95/p99 ms':>22}  "
    f"{'oversell':>8} {'stock≠orders':>12} {'hot sold/ordered':>17}  reconcile"
)


def row(run: Run) -> str:
    return (
        f"{run.stack:<16} {run.scenario:<9} {run.pairs:>6} {sum(run.errors.values()):>4} "
        f"{run.throughput:>8.1f}  {triple(run.checkout_ms):>24}  {triple(run.pay_ms):>22}  "
        f"{triple(run.pair_ms):>22}  {run.negative_stock:>8} {run.inconsistent:>12} "
        f"{f'{run.hot_sold}/{run.hot_ordered}':>17}  {run.reconcile}"
    )


# --- main -------------------------------------------------------------------------------------


def healthy(run: Run) -> bool:
    return (
        run.negative_stock == 0
        and run.inconsistent == 0
        and run.hot_sold == run.hot_ordered
        and run.reconcile == "ok"
    )


async def benchmark(args: argparse.Namespace, url: URL, base_url: str, admin_email: str) -> bool:
    """Seeds, runs every scenario and prints the table; False if any check failed."""
    limits = httpx.Limits(
        max_connections=args.concurrency + 8, max_keepalive_connections=args.concurrency + 8
    )
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=HTTP_TIMEOUT) as client:
        await wait_until_ready(client)
        started = time.perf_counter()
        market = await seed(client, admin_email, args.concurrency)
        print(
            f"seeded {SELLERS} sellers, {len(market.listings)} listings + 1 hot, "
            f"{len(market.buyers)} buyers in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url), min_size=args.concurrency, max_size=args.concurrency
        )
        runs: list[Run] = []
        rng = random.Random(args.seed)
        load_before = load()
        try:
            plans: list[tuple[str, str, PairFn]] = []
            for scenario in ("distinct", "hot"):
                plans.append(("HTTP API", scenario, http_pair(client, market, scenario, rng)))
            for transactions in (1, 2):
                for scenario in ("distinct", "hot"):
                    stack = f"asyncpg {transactions} tx"
                    pair = raw_pair(pool, market, scenario, rng, transactions)
                    plans.append((stack, scenario, pair))
            for stack, scenario, pair in plans:
                run = Run(stack, scenario)
                await drive(run, args.requests, args.concurrency, pair)
                await check(pool, client, market, run)
                runs.append(run)
                errors = dict(run.errors) or "none"
                print(
                    f"{stack} / {scenario}: {run.pairs} pairs in {run.elapsed:.1f}s, "
                    f"errors {errors}; oversell {run.negative_stock}, "
                    f"stock≠orders {run.inconsistent}, hot sold {run.hot_sold} "
                    f"vs ordered {run.hot_ordered}; reconcile {run.reconcile}",
                    flush=True,
                )
        finally:
            await pool.close()
    print()
    print(
        f"checkout+pay, {args.concurrency} concurrent clients, {args.requests} pairs per run "
        f"(distinct: {LISTINGS} listings x {LISTING_STOCK}; hot: 1 listing x {HOT_STOCK:,})"
    )
    print(
        f"API: {args.api_workers} uvicorn process(es), "
        + ("through PgBouncer (transaction mode)" if args.pgbouncer else "direct to PostgreSQL")
        + "; baseline: direct"
    )
    print(f"host: {load_before} before the runs, {load()} after")
    print(HEADER)
    print("-" * len(HEADER))
    for run in runs:
        print(row(run))
    return all(healthy(run) for run in runs)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    try:
        url = checked_url(args.database_url)
        admin_email = fresh_database(url)
        port = args.port or free_port()
        with ExitStack() as stack:
            api_url, pooled = url, {}
            if args.pgbouncer:
                bouncer = stack.enter_context(
                    local_pgbouncer(url.render_as_string(hide_password=False))
                )
                api_url = make_url(bouncer.url_for(url.render_as_string(hide_password=False)))
                pooled = {"MARKETPLACE_DATABASE_TRANSACTION_POOLER": "true"}
            base_url = stack.enter_context(
                api_server(
                    api_url,
                    port,
                    env=process_env(api_url, pooled),
                    workers=args.api_workers,
                )
            )
            consistent = asyncio.run(benchmark(args, url, base_url, admin_email))
    except BenchError as error:
        print(f"bench_checkout: {error}", file=sys.stderr)
        return 1
    if not consistent:
        print("bench_checkout: oversell or reconcile check FAILED", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
