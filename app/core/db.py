"""Engine, sessions and the unit-of-work boundary.

Services and repositories only `flush()`. The boundary commits once: `get_session` when the
request handler returns (before the response is sent, so a failed commit is never hidden
behind a 200), `session_scope()` for each unit of worker or CLI work.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import Settings
from app.core.errors import AppError, ServiceUnavailable

READ_ONLY_OPTION = "marketplace_read_only"
RETRY_AFTER_OUTAGE_SECONDS = 5


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "Database unreachable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail or "The database cannot be reached at the moment; retry shortly.",
            headers={"Retry-After": str(RETRY_AFTER_OUTAGE_SECONDS)},
        )


# What a failed attempt to connect raises: the network (refused, reset, unreachable, DNS),
# the connect timeout, and a server that is up but not taking connections (starting up,
# shutting down, out of connection slots). asyncpg raises these as they are, not as DBAPI
# errors, so nothing downstream could tell them from a bug.
_CONNECT_FAILURES = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def _refuse_when_unreachable(engine: AsyncEngine) -> None:
    """A connection that cannot be made becomes `DatabaseUnavailable` (503), not a 500."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except _CONNECT_FAILURES as error:
            raise DatabaseUnavailable() from error


def database_unavailable(error: BaseException) -> DatabaseUnavailable | None:
    """The 503 to answer for `error` if it means "the database is out of reach": a connection
    lost mid-request (SQLAlchemy invalidates the pool, so the next request reconnects) or no
    pooled connection free in time."""
    if isinstance(error, DatabaseUnavailable):
        return error
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return DatabaseUnavailable()
    if isinstance(error, PoolTimeout):
        return DatabaseUnavailable("No database connection became free in time; retry shortly.")
    return None


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Make SQLite behave like a serious database for our purposes.

    pysqlite's own transaction handling defers BEGIN until the first write, so a request that
    reads and then writes can fail with "database is locked" instead of waiting. We take over:
    every transaction is `BEGIN IMMEDIATE` (writers queue on the busy timeout), foreign keys are
    enforced and WAL lets readers of other connections proceed.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # a read session: each statement is its own transaction, and takes no lock
        # Read-only work (the readiness probe) must not queue behind writers.
        read_only = options.get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """The engine of `url` (default: the primary, `settings.database_url`)."""
    # hide_parameters: SQL errors get logged, and their parameters may hold secrets
    # (payout accounts, password hashes).
    kwargs: dict[str, Any] = {"echo": settings.database_echo, "hide_parameters": True}
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # No pre-ping: it costs a round trip on every checkout; a connection the server has
        # dropped fails one request instead, and pool_recycle retires idle ones before
        # typical server or proxy timeouts.
        kwargs.update(
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_recycle=1800,
        )
        connect_args: dict[str, Any] = {
            "timeout": settings.database_connect_timeout.total_seconds()
        }
        if settings.database_transaction_pooler:
            # Behind a transaction pooler a statement prepared in one transaction may be
            # gone (another server connection) or, under a reused name, clash with another
            # client's in the next: nothing is cached, and each statement SQLAlchemy
            # prepares (it prepares every one, to learn its result's columns) gets a name
            # no other connection will use.
            connect_args.update(
                statement_cache_size=0,
                prepared_statement_cache_size=0,
                prepared_statement_name_func=_unique_statement_name,
            )
        else:
            # JIT compilation pays off for long analytical queries, not for short OLTP ones,
            # whose latency it only adds to.
            # Custom plans always: asyncpg prepares every statement, and after five runs
            # PostgreSQL may switch to a generic plan that ignores the actual values; on
            # skewed data (a search word in 4 % of listings or in 0.01 %) that picks the
            # wrong index.
            connect_args["server_settings"] = {
                "jit": "off",
                "plan_cache_mode": "force_custom_plan",
            }
        kwargs["connect_args"] = connect_args
    engine = create_async_engine(url or settings.database_url, **kwargs)
    if settings.is_sqlite:
        _configure_sqlite(engine)
    else:
        _refuse_when_unreachable(engine)
    return engine


class Database:
    """The engines and session factories of one app instance (no module-level globals)."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine | None = None,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.engine = engine or create_engine(settings)
        self.replica_engine = (
            create_engine(settings, settings.database_read_url)
            if settings.database_read_url is not None and sessionmaker is None
            else None
        )
        # Tests pass a sessionmaker bound to one connection inside a rolled-back transaction.
        self.sessionmaker = sessionmaker or async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads that change nothing need no snapshot spanning their statements: in
        # autocommit mode they skip the BEGIN and COMMIT round trips. Tests read inside their
        # one transaction instead.
        self.read_sessionmaker = sessionmaker or _autocommit_sessions(self.engine)
        # The public reads: the replica's when there is one, else the primary's read sessions.
        self.replica_sessionmaker = (
            _autocommit_sessions(self.replica_engine)
            if self.replica_engine is not None
            else self.read_sessionmaker
        )

    @asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on error (worker, CLI, requests)."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except AppError as error:
                # Some refusals must still persist what they recorded (a failed login,
                # a revoked token family); the error class says so.
                if error.keeps_changes:
                    await session.commit()
                else:
                    await session.rollback()
                raise
            except BaseException:
                await session.rollback()
                raise
            else:
                await session.commit()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            read_only = await connection.execution_options(**{READ_ONLY_OPTION: True})
            await read_only.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.replica_engine is not None:
            await self.replica_engine.dispose()


def _autocommit_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session on the primary for a request that only reads: each statement commits on
    its own."""
    database: Database = request.app.state.database
    async with database.read_sessionmaker() as session:
        yield session


async def get_replica_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read session on the replica (`MARKETPLACE_DATABASE_READ_URL`), else the primary."""
    database: Database = request.app.state.database
    async with database.replica_sessionmaker() as session:
        yield session


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work (used with `Depends(..., scope="function")`)."""
    database: Database = request.app.state.database
    async with database.session_scope() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(get_replica_session, scope="function")]
"""For public reads only (anybody's view, no writes in the request): served by the replica
when there is one, so it may lag what was just written."""
StreamingReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="request")]
"""A read-only session on the primary that lives until the response has been sent: for an
answer streamed while it is read from the database (an export), which outlives the handler."""
