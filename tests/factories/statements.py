"""The SQL statements a request sends, counted on the test's connection (the app's sessions
join it: see tests/conftest.py), for tests that bound how many a request may take; or on a
whole engine, for tests of which engine (primary or replica) served a request."""

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

# The harness's savepoints and the transaction's bounds are not the request's work.
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"})


def _recorder(sent: list[str]) -> Callable[..., None]:
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            sent.append(statement)

    return record


@asynccontextmanager
async def statements_sent(session: AsyncSession) -> AsyncIterator[list[str]]:
    """The statements sent meanwhile, in order, transaction control aside."""
    connection = (await session.connection()).sync_connection
    assert connection is not None
    sent: list[str] = []
    record = _recorder(sent)
    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)


@contextmanager
def statements_on(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements any connection of `engine` sends meanwhile, transaction control
    aside."""
    sent: list[str] = []
    record = _recorder(sent)
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
