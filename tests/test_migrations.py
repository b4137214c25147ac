"""The schema exists only through migrations: they must match the models exactly and be
reversible, on whichever database this run targets."""

import asyncio
import os
import subprocess
import sys
import uuid
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


def test_the_logistics_migration_gives_shipped_orders_a_parcel_both_ways(
    scratch_databases: ScratchDatabases,
) -> None:
    """Issue 18's migration ships orders as parcels: an order shipped before it gets one
    parcel (carrier `other`, named as it was shipped, its number normalized) holding all its
    lines, an unshipped one none; every order takes its listings' handling time. It rebuilds
    `order_events` on SQLite, which must keep its rows; downgrading drops the parcels and
    keeps the orders, their lines and their timelines."""
    url = scratch_databases.new_url()
    settings = make_settings(url)
    migrate(settings, "i17a_accounts_mail")
    buyer, seller_user, seller = (
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a01",
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a02",
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a03",
    )
    category, listing, checkout = (
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a04",
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a05",
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a06",
    )
    shipped, paid = "0190a1b2c3d47e8f9a0b1c2d3e4f5a07", "0190a1b2c3d47e8f9a0b1c2d3e4f5a08"
    shipped_line, paid_line = (
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a09",
        "0190a1b2c3d47e8f9a0b1c2d3e4f5a0a",
    )
    event = "0190a1b2c3d47e8f9a0b1c2d3e4f5a0b"
    at, later = "2026-12-01 10:00:00", "2026-12-03 15:30:00"
    users = "id, email, password_hash, display_name, is_admin, created_at, updated_at"
    orders = (
        "id, checkout_id, buyer_id, seller_id, status, currency, items_amount, "
        "shipping_amount, total_amount, shipping_address, carrier, tracking_number, paid_at, "
        "shipped_at, created_at, updated_at"
    )
    lines = "id, order_id, listing_id, title, unit_price, quantity, shipping_fee"
    _rows(
        url,
        f"INSERT INTO users ({users}) VALUES ('{buyer}', 'buyer@example.com', 'x', 'Buyer', "
        f"false, '{at}', '{at}')",
        f"INSERT INTO users ({users}, seller_status) VALUES ('{seller_user}', "
        f"'seller@example.com', 'x', 'Seller', false, '{at}', '{at}', 'approved')",
        "INSERT INTO sellers (id, user_id, shop_name, slug, description, legal_name, "
        "seller_type, country, contact_email, contact_phone, payout_account, status, "
        f"approved_at, created_at, updated_at) VALUES ('{seller}', '{seller_user}', 'Shop', "
        "'shop', '', 'Seller Ltd', 'business', 'DE', 'seller@example.com', '+4930000000', "
        f"'DE00', 'approved', '{at}', '{at}', '{at}')",
        f"UPDATE users SET shop_id = '{seller}' WHERE id = '{seller_user}'",
        "INSERT INTO categories (id, name, slug, position) VALUES "
        f"('{category}', 'Things', 'things', 0)",
        "INSERT INTO listings (id, seller_id, category_id, title, description, price_amount, "
        "currency, shipping_fee_amount, quantity, condition, attributes, handling_days, "
        "status, seller_approved, report_count, held_while_paused, published_at, created_at, "
        f"updated_at) VALUES ('{listing}', '{seller}', '{category}', 'Thing', '', 1000, "
        f"'EUR', 500, 10, 'new', '{{}}', 5, 'active', true, 0, false, '{at}', '{at}', '{at}')",
        "INSERT INTO checkouts (id, buyer_id, status, currency, total_amount, expires_at, "
        f"paid_at, created_at, updated_at) VALUES ('{checkout}', '{buyer}', 'paid', 'EUR', "
        f"4000, '{at}', '{at}', '{at}', '{at}')",
        f"INSERT INTO orders ({orders}) VALUES ('{shipped}', '{checkout}', '{buyer}', "
        f"'{seller}', 'shipped', 'EUR', 2000, 500, 2500, '{{}}', 'DHL Express', "
        f"'jjd 0001 2345', '{at}', '{later}', '{at}', '{later}')",
        f"INSERT INTO orders ({orders}) VALUES ('{paid}', '{checkout}', '{buyer}', "
        f"'{seller}', 'paid', 'EUR', 1000, 500, 1500, '{{}}', NULL, NULL, '{at}', NULL, "
        f"'{at}', '{at}')",
        f"INSERT INTO order_lines ({lines}) VALUES ('{shipped_line}', '{shipped}', "
        f"'{listing}', 'Thing', 1000, 2, 500)",
        f"INSERT INTO order_lines ({lines}) VALUES ('{paid_line}', '{paid}', '{listing}', "
        "'Thing', 1000, 1, 500)",
        "INSERT INTO order_events (id, order_id, actor_id, actor_role, action, from_status, "
        f"to_status, details, subject, created_at) VALUES ('{event}', '{shipped}', "
        f"'{seller_user}', 'seller', 'ship', 'paid', 'shipped', '{{}}', 'order', '{later}')",
    )

    migrate(settings)
    parcels, parcel, contents, content, handling, events = _rows(
        url,
        "SELECT count(*) FROM shipments",
        "SELECT order_id, carrier, carrier_name, tracking_number, status FROM shipments",
        "SELECT count(*) FROM shipment_lines",
        "SELECT shipment_lines.order_line_id, shipment_lines.quantity FROM shipment_lines "
        "JOIN shipments ON shipments.id = shipment_lines.shipment_id",
        "SELECT count(*), min(handling_days), max(handling_days) FROM orders",
        "SELECT count(*), min(subject) FROM order_events",
    )
    assert parcels[0] == 1
    assert uuid.UUID(str(parcel[0])) == uuid.UUID(shipped)
    assert tuple(parcel[1:]) == ("other", "DHL Express", "JJD00012345", "label_created")
    assert contents[0] == 1
    assert (uuid.UUID(str(content[0])), content[1]) == (uuid.UUID(shipped_line), 2)
    assert tuple(handling) == (2, 5, 5)  # the listing's, not the column's default
    assert tuple(events) == (1, "order")

    command.downgrade(alembic_config(settings), "i17a_accounts_mail")
    orders_left, lines_left, events_left = _rows(
        url,
        "SELECT count(*) FROM orders",
        "SELECT count(*) FROM order_lines",
        "SELECT count(*) FROM order_events",
    )
    assert (orders_left[0], lines_left[0], events_left[0]) == (2, 2, 1)
    _differences, tables = _inspect(url)
    assert not tables & {"shipments", "shipment_lines", "tracking_events"}, tables
