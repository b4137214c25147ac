"""The schema exists only through migrations: they must match the models exactly and be
reversible, on whichever database this run targets."""

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from app.cli import PROJECT_ROOT, alembic_config, migrate
from app.core.db import create_engine
from app.models_registry import include_object, metadata
from tests.conftest import ScratchDatabases
from tests.factories.apps import make_settings


def _inspect(url: str) -> tuple[list[Any], set[str]]:
    """(differences between models and schema, table names) of the database at `url`."""

    def run(connection: Connection) -> tuple[list[Any], set[str]]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        return compare_metadata(context, metadata), set(inspect(connection).get_table_names())

    async def main() -> tuple[list[Any], set[str]]:
        engine = create_engine(make_settings(url))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(run)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_models_and_migrations_agree_and_round_trip(
    scratch_databases: ScratchDatabases,
) -> None:
    url = scratch_databases.new_url()
    settings = make_settings(url)

    migrate(settings)
    differences, tables = _inspect(url)
    assert differences == [], (
        f"models and migrations differ; autogenerate a migration: {differences}"
    )
    assert set(metadata.tables) <= tables

    command.downgrade(alembic_config(settings), "base")
    differences, tables = _inspect(url)
    assert tables == {"alembic_version"}, f"downgrade left tables behind: {tables}"

    migrate(settings)
    differences, tables = _inspect(url)
    assert differences == []
    assert set(metadata.tables) <= tables


@pytest.mark.postgres_only
def test_containers_starting_together_migrate_once_and_all_succeed(
    scratch_databases: ScratchDatabases,
) -> None:
    """Several containers start at once and each runs `marketplace migrate` (the image's
    command does): one upgrades, the others wait for it and find the schema current."""
    url = scratch_databases.new_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(
        MARKETPLACE_DATABASE_URL=url,
        MARKETPLACE_ENVIRONMENT="test",
        MARKETPLACE_LOG_LEVEL="WARNING",
    )
    migrates = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "migrate"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(m.wait(timeout=180), m.communicate()[0]) for m in migrates]
    assert [code for code, _output in outcomes] == [0] * 4, outcomes
    differences, tables = _inspect(url)
    assert differences == []
    assert "alembic_version" in tables


def _rows(url: str, *statements: str) -> list[Any]:
    """Runs `statements` in one transaction, as the app's engine would (SQLite's foreign
    keys on), and returns the first row of each (None for a statement without rows)."""

    async def main() -> list[Any]:
        engine = create_engine(make_settings(url))
        try:
            async with engine.begin() as connection:
                results = [await connection.execute(text(s)) for s in statements]
                return [r.first() if r.returns_rows else None for r in results]
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_the_accounts_migration_keeps_the_rows_that_refer_to_users_both_ways(
    scratch_databases: ScratchDatabases,
) -> None:
    """Issue 17's migration adds columns to `users`. On SQLite a batch that rebuilt the table
    would drop it under foreign keys, deleting every session (cascade) or failing on every
    checkout (no cascade); an existing database with data must come through untouched, and
    its accounts count as verified."""
    url = scratch_databases.new_url()
    settings = make_settings(url)
    migrate(settings, "i16b_balances")
    user_id, later = "0190a1b2c3d47e8f9a0b1c2d3e4f5a6b", "2026-12-01 10:00:00"
    _rows(
        url,
        "INSERT INTO users (id, email, password_hash, display_name, is_admin, created_at, "
        f"updated_at) VALUES ('{user_id}', 'old@example.com', 'x', 'Old', false, '{later}', "
        f"'{later}')",
        f"INSERT INTO auth_sessions (id, user_id, created_at) VALUES "
        f"('0190a1b2c3d47e8f9a0b1c2d3e4f5a6c', '{user_id}', '{later}')",
        "INSERT INTO checkouts (id, buyer_id, status, currency, total_amount, expires_at, "
        f"created_at, updated_at) VALUES ('0190a1b2c3d47e8f9a0b1c2d3e4f5a6d', '{user_id}', "
        f"'pending_payment', 'USD', 100, '{later}', '{later}', '{later}')",
    )

    migrate(settings, "i17a_accounts_mail")
    sessions, checkouts, user = _rows(
        url,
        "SELECT count(*) FROM auth_sessions",
        "SELECT count(*) FROM checkouts",
        "SELECT email_verified_at IS NOT NULL, email_opt_outs FROM users",
    )
    assert (sessions[0], checkouts[0]) == (1, 1)
    assert user[0] in (True, 1)  # grandfathered: verified
    assert user[1] in ("[]", [])

    command.downgrade(alembic_config(settings), "i16b_balances")
    sessions, checkouts = _rows(
        url, "SELECT count(*) FROM auth_sessions", "SELECT count(*) FROM checkouts"
    )
    assert (sessions[0], checkouts[0]) == (1, 1)
