"""What MARKETPLACE_DATABASE_TRANSACTION_POOLER costs, and what PgBouncer adds.

    python scripts/bench_pooler.py [--database-url URL] [--clients 16] [--transactions 400]

The app's own engine (app.core.db.create_engine) runs the same short read transactions (two
parameterised SELECTs each, as a listing page does) with `--clients` at once, three ways:
straight to PostgreSQL with the statement caches on (the default), straight with the
pooler setting (caches off, every statement prepared under a name of its own), and through a
private PgBouncer in transaction mode (scripts/local_pgbouncer.py) with the setting. It
prints transactions per second and the median latency of each; nothing is written.
"""

import argparse
import asyncio
import statistics
import time

from local_pgbouncer import local_pgbouncer
from sqlalchemy import text

from app.config import Settings
from app.core.db import create_engine

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
STATEMENTS = (
    text("SELECT oid, relname, relkind FROM pg_class WHERE relname = :name"),
    text("SELECT count(*) FROM pg_attribute WHERE attrelid = :oid"),
)


async def run(url: str, *, pooler: bool, clients: int, transactions: int) -> tuple[float, float]:
    """(transactions per second, median milliseconds) of `transactions` shared by `clients`."""
    settings = Settings(database_url=url, database_transaction_pooler=pooler)
    engine = create_engine(settings)
    latencies: list[float] = []
    remaining = transactions

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            async with engine.connect() as connection:
                row = (await connection.execute(STATEMENTS[0], {"name": "pg_class"})).one()
                await connection.execute(STATEMENTS[1], {"oid": row.oid})
            latencies.append(time.perf_counter() - started)

    try:
        async with engine.connect() as connection:  # the pool's first connection: not timed
            await connection.execute(text("SELECT 1"))
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    return transactions / elapsed, statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--transactions", type=int, default=400)
    args = parser.parse_args()
    rows = []
    for label, pooler in (("direct, caches on", False), ("direct, pooler setting", True)):
        rows.append((label, *asyncio.run(run(args.database_url, pooler=pooler, **_load(args)))))
    with local_pgbouncer(args.database_url) as bouncer:
        pooled = bouncer.url_for(args.database_url)
        rows.append(
            ("PgBouncer, pooler setting", *asyncio.run(run(pooled, pooler=True, **_load(args))))
        )
    print(f"{args.clients} clients, {args.transactions} transactions of 2 SELECTs each")
    print(f"{'path':<28}{'tx/s':>10}{'p50 ms':>10}")
    for label, rate, p50 in rows:
        print(f"{label:<28}{rate:>10.0f}{p50:>10.2f}")


def _load(args: argparse.Namespace) -> dict[str, int]:
    return {"clients": args.clients, "transactions": args.transactions}


if __name__ == "__main__":
    main()
