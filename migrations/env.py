"""Alembic environment: async engine from the app's settings, batch mode for SQLite."""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.config import get_settings
from app.core.db import create_engine
from app.models_registry import include_object, metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )


# Any constant every `migrate` agrees on: the key of the advisory lock they take.
MIGRATION_LOCK_KEY = 0x6D6B7470_6D696772  # "mktpmigr"


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Containers starting together each run `migrate`: the first takes this lock and
            # upgrades in its one transaction; the others wait here, then (READ COMMITTED
            # reads the committed version table) find the schema current and do nothing. The
            # lock ends with the transaction.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def _run_async() -> None:
    settings = config.attributes.get("settings") or get_settings()
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

asyncio.run(_run_async())
