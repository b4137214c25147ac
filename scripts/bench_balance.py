#!/usr/bin/env python3
"""Balance benchmark: a seller's balance read and payout request for a shop with 1,000,000
completed orders beside a shop with 10, the running balances beside the sum over entries.

    python scripts/bench_balance.py                      # 1,000,000 and 10 orders
    python scripts/bench_balance.py --orders 100000 --iterations 500

It recreates a scratch PostgreSQL database on this machine (`marketplace_bench_balance`),
runs the migrations and loads, with server-side SQL (INSERT ... SELECT generate_series), two
shops' histories: per completed order a sale into the payout hold and its release to
available (three entries of the shop's, one of the platform's, in two balanced
transactions), so the big shop has 3,000,000 entries of its own; then their running balances,
as the migration fills them. It then times, one call after another in a transaction of its
own (rolled back, so every call sees the same database):

- *balance read*: `payments.service.balances`, what `GET /v1/sellers/me/balance` calls;
- *payout request*: `payments.service.request_payout` of one cent, what
  `POST /v1/sellers/me/payouts` calls (balance rows locked, the check, the posting);

and beside each the old way, the baseline: the same read as a GROUP BY sum over the shop's
entries, and the payout as it was (the seller row locked, the available sum, the same posting).
"""

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from ipaddress import ip_address

import asyncpg
from bench_support import asyncpg_dsn, bench_settings, recreate_database
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.cli import migrate
from app.config import Settings
from app.core.db import Database
from app.core.money import Money
from app.payments import ledger
from app.payments import service as payments
from app.payments.ledger import Leg
from app.payments.models import Account, LedgerEntry, Payout, PayoutStatus
from app.sellers.models import SellerProfile, SellerStatus, SellerType
from app.sellers.repository import SellerRepository

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/marketplace_bench_balance"
CURRENCY = "USD"
PAYOUT = 1  # minor units: the big shop's balance outlasts any run
BULK_TABLES = ("ledger_entries", "ledger_transactions")

# Ids are built from a prefix per (table, shop) and a running number, so the bulk rows
# arrive in index order (fast appends) and never collide.
_ID = "({prefix} || lpad(to_hex({number}), 12, '0'))::uuid"


def _id(table: int, shop: int, number: str) -> str:
    return _ID.format(prefix=f"'{table:08x}-{shop:04x}-7000-8000-'", number=number)


# $1: the shop's orders ($2 its id). Order g's net proceeds: 1000 + g % 5000 cents.
_TRANSACTIONS_SQL = """
INSERT INTO ledger_transactions (id, kind, order_id, created_at)
SELECT {transaction_id}, step.kind, {order_id},
       now() - ($1::int - g) * interval '30 seconds' + step.t * interval '7 days'
FROM generate_series(1, $1::int) g
CROSS JOIN (VALUES (0, 'completion'), (1, 'hold_released')) AS step(t, kind)
"""
_ENTRIES_SQL = """
INSERT INTO ledger_entries
    (id, transaction_id, account, owner_id, order_id, amount, currency, created_at)
SELECT {entry_id}, {transaction_id}, leg.account,
       CASE WHEN leg.owned THEN $2::uuid END, {order_id},
       leg.sign * (1000 + g % 5000), 'USD',
       now() - ($1::int - g) * interval '30 seconds' + leg.t * interval '7 days'
FROM generate_series(1, $1::int) g
CROSS JOIN (VALUES
    (0, 0, 'external', false, -1),
    (1, 0, 'seller_pending', true, 1),
    (2, 1, 'seller_pending', true, -1),
    (3, 1, 'seller_available', true, 1)
) AS leg(i, t, account, owned, sign)
"""
# The migration's backfill: every owned account's running balance is the sum of its entries.
_BALANCES_SQL = """
INSERT INTO account_balances (owner_id, account, currency, balance)
SELECT owner_id, account, currency, SUM(amount) FROM ledger_entries
WHERE owner_id IS NOT NULL GROUP BY owner_id, account, currency
"""


# --- the database -------------------------------------------------------------------------------


async def create_shops(database: Database, count: int) -> list[SellerProfile]:
    """Approved shops with their owners, through the models (a handful of rows)."""
    shops = []
    async with database.session_scope() as session:
        for number in range(count):
            user = User(email=f"shop{number}@bench.example", display_name=f"Shop {number}")
            session.add(user)
            await session.flush()
            shop = SellerProfile(
                id=uuid.uuid4(),
                user_id=user.id,
                shop_name=f"Bench shop {number}",
                slug=f"bench-shop-{number}",
                legal_name="Bench GmbH",
                seller_type=SellerType.business,
                country="DE",
                contact_email=user.email,
                contact_phone="+49 30 1234567",
                payout_account="DE89370400440532013000",
                status=SellerStatus.approved,
            )
            session.add(shop)
            shops.append(shop)
    return shops


async def load_history(url: str, shops: Sequence[tuple[SellerProfile, int]]) -> None:
    """Each shop's completed orders as ledger rows, then the running balances."""
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        # A throwaway database: durability buys nothing during the load, and the bulk rows
        # are consistent by construction (no foreign-key trigger per row).
        await connection.execute("SET synchronous_commit = off")
        await connection.execute("SET maintenance_work_mem = '512MB'")
        await connection.execute("SET session_replication_role = replica")
        # Secondary indexes are built once after the load, far faster than row by row; their
        # definitions are read back from the migrated schema.
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1::text[])"
            " AND indexname NOT LIKE 'pk_%'",
            list(BULK_TABLES),
        )
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        for number, (shop, orders) in enumerate(shops, start=1):
            started = time.perf_counter()
            ids = {
                "transaction_id": _id(1, number, "2 * g + step.t"),
                "order_id": _id(3, number, "g"),
            }
            await connection.execute(_TRANSACTIONS_SQL.format(**ids), orders)
            ids |= {
                "transaction_id": _id(1, number, "2 * g + leg.t"),
                "entry_id": _id(2, number, "4 * g + leg.i"),
            }
            await connection.execute(_ENTRIES_SQL.format(**ids), orders, shop.id)
            print(
                f"  {shop.shop_name}: {orders:,} orders, {3 * orders:,} entries of its own "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        started = time.perf_counter()
        for index in indexes:
            await connection.execute(index["indexdef"])
        await connection.execute("SET session_replication_role = DEFAULT")
        await connection.execute(_BALANCES_SQL)
        for table in (*BULK_TABLES, "account_balances"):
            await connection.execute(f"VACUUM ANALYZE {table}")
        print(f"  indexes, running balances, analyze: {time.perf_counter() - started:.1f} s")
    finally:
        await connection.close()


# --- the operations, the new way and the old --------------------------------------------------


Operation = Callable[[AsyncSession, SellerProfile, Settings], Awaitable[None]]


async def balance_read(session: AsyncSession, shop: SellerProfile, settings: Settings) -> None:
    await payments.balances(session, shop.id, including=settings.currency)


async def payout_request(session: AsyncSession, shop: SellerProfile, settings: Settings) -> None:
    amount = Money(amount=PAYOUT, currency=settings.currency)
    await payments.request_payout(session, shop, amount, settings=settings)


async def balance_read_summed(
    session: AsyncSession, shop: SellerProfile, _settings: Settings
) -> None:
    """The old balance view: every entry of the shop, grouped by currency and account."""
    await session.execute(
        select(LedgerEntry.currency, LedgerEntry.account, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.owner_id == shop.id)
        .group_by(LedgerEntry.currency, LedgerEntry.account)
    )


async def payout_request_summed(
    session: AsyncSession, shop: SellerProfile, settings: Settings
) -> None:
    """The old payout: the seller row locked, the available balance summed, the posting."""
    await SellerRepository(session).get_for_update(shop.id)
    available = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account == Account.seller_available,
            LedgerEntry.currency == settings.currency,
            LedgerEntry.owner_id == shop.id,
        )
    )
    assert int(available or 0) >= PAYOUT
    payout = Payout(
        seller_id=shop.id, amount=PAYOUT, currency=settings.currency, status=PayoutStatus.pending
    )
    session.add(payout)
    await session.flush()
    await ledger.post(
        session,
        "payout_requested",
        [
            Leg(Account.seller_available, -PAYOUT, settings.currency, owner_id=shop.id),
            Leg(Account.payouts_in_transit, PAYOUT, settings.currency, owner_id=shop.id),
        ],
        payout_id=payout.id,
    )


@dataclass(frozen=True, slots=True)
class Timing:
    shop: str
    operation: str
    way: str
    seconds: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def rate(self) -> float:
        return len(self.seconds) / sum(self.seconds)


async def measure(
    database: Database, settings: Settings, shop: SellerProfile, operation: Operation, n: int
) -> list[float]:
    """`n` timed calls after a few untimed ones, each in a transaction of its own, rolled back
    (the database stays as loaded: every call sees the same history)."""
    seconds = []
    for attempt in range(n + 3):
        started = time.perf_counter()
        async with database.sessionmaker() as session:
            await operation(session, shop, settings)
            await session.rollback()
        if attempt >= 3:
            seconds.append(time.perf_counter() - started)
    return seconds


def render(timings: Sequence[Timing]) -> str:
    header = ("shop", "operation", "way", "n", "p50 ms", "p95 ms", "p99 ms", "ops/s")
    rows = [
        (
            t.shop,
            t.operation,
            t.way,
            str(len(t.seconds)),
            *(f"{t.percentile(p) * 1000:.2f}" for p in (50, 95, 99)),
            f"{t.rate:,.0f}",
        )
        for t in timings
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


async def benchmark(args: argparse.Namespace) -> str:
    settings = bench_settings(args.database_url)
    await recreate_database(args.database_url)
    await asyncio.to_thread(migrate, settings)
    database = Database(settings)
    try:
        big, small = await create_shops(database, 2)
        print("loading", flush=True)
        await load_history(args.database_url, [(big, args.orders), (small, args.small_orders)])
        operations: list[tuple[str, str, Operation, bool]] = [
            ("balance read", "running balance", balance_read, False),
            ("balance read", "sum of entries (old)", balance_read_summed, True),
            ("payout request", "running balance", payout_request, False),
            ("payout request", "sum of entries (old)", payout_request_summed, True),
        ]
        timings = []
        for operation_name, way, operation, summed in operations:
            for shop, orders in ((big, args.orders), (small, args.small_orders)):
                n = args.baseline_iterations if summed and shop is big else args.iterations
                print(f"  {operation_name}, {way}, {orders:,} orders: {n} calls", flush=True)
                seconds = await measure(database, settings, shop, operation, n)
                timings.append(Timing(f"{orders:,} orders", operation_name, way, seconds))
    finally:
        await database.dispose()
    table = render(timings)
    by_key = {(t.operation, t.way, t.shop): t for t in timings}
    notes = []
    for operation_name in ("balance read", "payout request"):
        big_p50 = by_key[operation_name, "running balance", f"{args.orders:,} orders"]
        small_p50 = by_key[operation_name, "running balance", f"{args.small_orders:,} orders"]
        old_big = by_key[operation_name, "sum of entries (old)", f"{args.orders:,} orders"]
        notes.append(
            f"{operation_name}: p50 {args.orders:,} orders / {args.small_orders:,} orders = "
            f"{big_p50.percentile(50) / small_p50.percentile(50):.2f}x (running balance); "
            f"the old sum at {args.orders:,} orders is "
            f"{old_big.percentile(50) / big_p50.percentile(50):,.0f}x the running balance"
        )
    return table + "\n\n" + "\n".join(notes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1_000_000, help="the big shop's orders")
    parser.add_argument("--small-orders", type=int, default=10, help="the small shop's orders")
    parser.add_argument("--iterations", type=int, default=2000, help="calls per measurement")
    parser.add_argument(
        "--baseline-iterations",
        type=int,
        default=30,
        help="calls of the old way on the big shop (each reads its whole history)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql") or not url.database:
        parser.error("--database-url must name a PostgreSQL database")
    if url.host != "localhost" and not ip_address(url.host or "0.0.0.0").is_loopback:
        parser.error("--database-url must be on this machine (it is dropped and recreated)")
    if min(args.orders, args.small_orders, args.iterations, args.baseline_iterations) < 1:
        parser.error("--orders, --small-orders and the iterations must be positive")
    table = asyncio.run(benchmark(args))
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
