"""Sessions of the app's Database: the request's unit of work, and public reads."""

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.catalog.models import Category
from app.config import Settings
from app.core.db import Database


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
