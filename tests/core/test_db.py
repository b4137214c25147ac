"""Sessions of the app's Database: the request's unit of work, and public reads."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.core.db import Database

pytestmark = pytest.mark.postgres_only


async def _now_twice(database: Database, *, read_only: bool) -> tuple[object, object]:
    maker = database.read_sessionmaker if read_only else database.sessionmaker
    async with maker() as session:
        first = await session.scalar(text("SELECT now()"))
        await session.execute(text("SELECT pg_sleep(0.01)"))
        second = await session.scalar(text("SELECT now()"))
    return first, second


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
