"""Sessions of the app's Database: the request's unit of work, and public reads."""

import asyncio
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.catalog.models import Category
from app.config import Settings
from app.core.db import Database, create_engine
from tests.conftest import POSTGRES_URL
from tests.factories.apps import make_settings


async def _now_twice(database: Database, *, read_only: bool) -> tuple[object, object]:
    maker = database.read_sessionmaker if read_only else database.sessionmaker
    async with maker() as session:
        first = await session.scalar(text("SELECT now()"))
        await session.execute(text("SELECT pg_sleep(0.01)"))
        second = await session.scalar(text("SELECT now()"))
    return first, second


@pytest.mark.postgres_only
async def test_public_reads_run_each_statement_on_its_own(
    settings: Settings, engine: AsyncEngine
) -> None:
    """No BEGIN/COMMIT around a read session: every statement is its own transaction, so
    PostgreSQL's transaction time moves between them (inside a transaction it cannot)."""
    database = Database(settings, engine=engine)
    first, second = await _now_twice(database, read_only=True)
    assert first != second
    first, second = await _now_twice(database, read_only=False)
    assert first == second


async def test_a_read_session_neither_waits_for_nor_sees_an_open_write(
    committed_database: Database,
) -> None:
    """Searches must not queue behind a writer (on SQLite a transaction that writes holds the
    database's write lock until it ends), and see only what is committed."""
    async with committed_database.session_scope() as writer:
        writer.add(Category(name="Toys", slug="toys", position=0))
        await writer.flush()
        async with committed_database.read_sessionmaker() as reader, asyncio.timeout(5):
            before = await reader.scalar(select(func.count()).select_from(Category))
    async with committed_database.read_sessionmaker() as reader:
        after = await reader.scalar(select(func.count()).select_from(Category))
    assert (before, after) == (0, 1)


async def _connections_kept(settings: Settings, at_once: int) -> int:
    """How many connections the pool holds after `at_once` requests used one each."""
    engine = create_engine(settings)
    try:
        async with AsyncExitStack() as stack:
            for _ in range(at_once):
                connection = await stack.enter_async_context(engine.connect())
                await connection.execute(text("SELECT 1"))
        return engine.pool.checkedin()
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_the_pool_keeps_its_size_and_closes_what_a_peak_opened_beyond_it() -> None:
    assert POSTGRES_URL is not None
    settings = make_settings(POSTGRES_URL, database_pool_size=2, database_max_overflow=2)
    assert await _connections_kept(settings, at_once=2) == 2
    assert await _connections_kept(settings, at_once=4) == 2
    kept_for_the_peak = make_settings(POSTGRES_URL, database_pool_size=4)
    assert await _connections_kept(kept_for_the_peak, at_once=4) == 4
