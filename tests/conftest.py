"""Test harness.

The database is built by running the Alembic migrations, once per session, on SQLite (a temp
file) or, when MARKETPLACE_TEST_POSTGRES_URL names a server, on a fresh PostgreSQL database
created for this run and dropped after it. An unreachable server is an error, never a skip.

Each test runs inside one outer transaction that is rolled back at the end: the app's own
sessions join it through savepoints, so "commit" inside a request only releases a savepoint.
Tests that need real commits on separate connections (concurrency) use `committed_app`.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.catalog.category_tree import CategoryTreeCache
from app.cli import migrate
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database, create_engine
from app.core.process import configure_process
from app.main import create_app
from app.models_registry import metadata
from scripts.local_pgbouncer import PgBouncer, local_pgbouncer, pgbouncer_binary
from tests.factories.apps import make_settings
from tests.factories.mail import SmtpSink, smtp_sink

POSTGRES_URL = os.environ.get("MARKETPLACE_TEST_POSTGRES_URL")


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + POSTGRES_URL if POSTGRES_URL else 'SQLite'}"


OUTSIDE_TESTS = Path(__file__).parent / "outside"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/outside are marked `outside` (scripts/dev.py runs them after the
    in-process suite). PostgreSQL-only tests (real concurrency) are deselected on SQLite, not
    skipped."""
    for item in items:
        if item.path.is_relative_to(OUTSIDE_TESTS):
            item.add_marker(pytest.mark.outside)
    if POSTGRES_URL:
        return
    selected = [i for i in items if i.get_closest_marker("postgres_only") is None]
    deselected = [i for i in items if i.get_closest_marker("postgres_only") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def admin_execute(statement: str) -> None:
    assert POSTGRES_URL is not None
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise RuntimeError(
            f"PostgreSQL at {POSTGRES_URL} is unreachable ({error}); "
            "the PostgreSQL test run cannot proceed"
        ) from error
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


class ScratchDatabases:
    """Creates throwaway databases (one per call) and drops them all at the end."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.created: list[str] = []

    def new_url(self) -> str:
        name = f"marketplace_test_{uuid.uuid4().hex[:12]}"
        if POSTGRES_URL is None:
            return f"sqlite+aiosqlite:///{self.tmp_dir / (name + '.db')}"
        asyncio.run(admin_execute(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self.created:
            asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def scratch_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchDatabases]:
    scratch = ScratchDatabases(tmp_path_factory.mktemp("databases"))
    yield scratch
    scratch.drop_all()


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """A private PgBouncer in transaction mode in front of the test server (PostgreSQL runs
    only). Not installed: a skip on a developer's machine, but a failure on CI (`CI` set),
    which must run every test it claims to; scripts/dev.py installs it there."""
    assert POSTGRES_URL is not None, "PgBouncer tests are postgres_only"
    if pgbouncer_binary() is None:
        message = "pgbouncer is not installed (Debian: apt-get install pgbouncer)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with local_pgbouncer(POSTGRES_URL) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def settings(scratch_databases: ScratchDatabases) -> Settings:
    settings = make_settings(scratch_databases.new_url())
    configure_process(settings)
    migrate(settings)
    return settings


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
async def database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """A Database whose sessions all live inside one transaction, rolled back after the test."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        sessionmaker = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        yield Database(settings, engine=engine, sessionmaker=sessionmaker)
        await outer.rollback()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """For arranging data directly; flushed rows are visible to the app in the same test."""
    async with database.session_scope() as session:
        yield session


@pytest.fixture(scope="session")
def app(settings: Settings, engine: AsyncEngine) -> FastAPI:
    """One app for the whole run (building one per test costs time and memory); each test
    points it at its own rolled-back `database`."""
    return create_app(settings, database=Database(settings, engine=engine))


def _point_app_at(app: FastAPI, database: Database) -> None:
    """The app now serves `database`: what it keeps in memory of the last one goes."""
    app.state.database = database
    app.state.category_tree = CategoryTreeCache(app.state.settings.category_tree_ttl)


@pytest.fixture
async def client(app: FastAPI, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    _point_app_at(app, database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def committed_database(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Database]:
    """Real commits on pooled connections (for concurrency tests); every table is emptied
    afterwards so other tests still start clean."""
    yield Database(settings, engine=engine)
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def committed_client(
    app: FastAPI, committed_database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    _point_app_at(app, committed_database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """A real SMTP server on a local port that keeps what it is sent (tests/factories/mail.py);
    pair it with `smtp_settings(settings, smtp_server.url)` for the worker's sweep."""
    with smtp_sink() as sink:
        yield sink
