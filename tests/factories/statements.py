"""The SQL statements a request sends, counted on the test's connection (the app's sessions
join it: see tests/conftest.py), for tests that bound how many a request may take."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

# The harness's savepoints and the transaction's bounds are not the request's work.
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"})


@asynccontextmanager
async def statements_sent(session: AsyncSession) -> AsyncIterator[list[str]]:
    """The statements sent meanwhile, in order, transaction control aside."""
    connection = (await session.connection()).sync_connection
    assert connection is not None
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            sent.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)
