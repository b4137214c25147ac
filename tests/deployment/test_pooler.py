"""MARKETPLACE_DATABASE_TRANSACTION_POOLER: the app's engine behind PgBouncer in transaction
pooling mode, where consecutive transactions of one app connection run on whichever server
connection is free. (tests/integration/test_many_processes.py runs a whole deployment
through it.)"""

import asyncio

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.core.db import create_engine
from scripts.local_pgbouncer import PgBouncer, local_pgbouncer
from tests.conftest import POSTGRES_URL
from tests.factories.apps import make_settings

CLIENTS = 12
ROUNDS = 5


async def _busy_clients(settings: Settings) -> list[int]:
    """CLIENTS connections at once, each running ROUNDS transactions of the same statements
    (what makes a driver cache and reuse prepared statements); what each one read."""
    engine = create_engine(settings)

    async def client(n: int) -> int:
        total = 0
        for _ in range(ROUNDS):
            async with engine.begin() as connection:
                total += await connection.scalar(text("SELECT :n + 1"), {"n": n}) or 0
                total += (
                    await connection.scalar(
                        text("SELECT count(*) FROM pg_class WHERE relname = :name"), {"name": "x"}
                    )
                    or 0
                )
        return total

    try:
        return await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    finally:
        await engine.dispose()


def test_the_setting_needs_postgresql() -> None:
    with pytest.raises(ValidationError, match="TRANSACTION_POOLER needs PostgreSQL"):
        make_settings("sqlite+aiosqlite:///primary.db", database_transaction_pooler=True)


@pytest.mark.postgres_only
async def test_with_the_setting_many_connections_share_few_server_connections(
    pgbouncer: PgBouncer,
) -> None:
    assert POSTGRES_URL is not None
    settings = make_settings(pgbouncer.url_for(POSTGRES_URL), database_transaction_pooler=True)
    assert await _busy_clients(settings) == [(n + 1) * ROUNDS for n in range(CLIENTS)]


async def _two_connections_taking_turns(settings: Settings) -> int:
    """Two app connections, each in a transaction at once, so each takes one of the bouncer's
    two server connections and prepares (and caches) the same statement there; then the one
    that committed first runs it again. PgBouncer hands out the most recently freed server
    connection (LIFO), so that run lands on the other one's server. What it read."""
    engine = create_engine(settings)
    statement = text("SELECT :n + 1")
    try:
        async with engine.connect() as first, engine.connect() as second:
            async with first.begin():
                await first.scalar(statement, {"n": 1})
                async with second.begin():
                    await second.scalar(statement, {"n": 2})
            async with second.begin():
                return await second.scalar(statement, {"n": 3}) or 0
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_without_it_prepared_statements_collide_behind_the_pooler(
    pgbouncer: PgBouncer,
) -> None:
    """Why the setting exists. Even told to drop the server settings it cannot pass on, a
    bouncer in transaction mode runs a connection's cached statement on a server connection
    that never prepared it."""
    assert POSTGRES_URL is not None
    with local_pgbouncer(
        POSTGRES_URL, pool_size=2, ignore_startup_parameters=("jit", "plan_cache_mode")
    ) as strict:
        settings = make_settings(strict.url_for(POSTGRES_URL))
        with pytest.raises(DBAPIError, match="prepared statement"):
            await _two_connections_taking_turns(settings)
        pooled = make_settings(strict.url_for(POSTGRES_URL), database_transaction_pooler=True)
        assert await _two_connections_taking_turns(pooled) == 4
