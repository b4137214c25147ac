"""The issue-15 migration of returns and disputes rewrites stored rows: evidence learns its
uploader's role, and refunds in return and dispute timeline details become Money (and back
on downgrade), on whichever database this run targets. Run on just the tables it touches."""

import asyncio
import importlib.util
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection

from app.core.db import create_engine
from tests.conftest import ScratchDatabases
from tests.factories.apps import make_settings

MIGRATION = (
    Path(__file__).resolve().parents[2] / "migrations/versions/2026-12-07-1102_i15_disputes.py"
)

metadata = sa.MetaData()
sellers = sa.Table(
    "sellers",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid()),
)
disputes = sa.Table(
    "disputes",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("buyer_id", sa.Uuid()),
    sa.Column("seller_id", sa.Uuid()),
)
evidence = sa.Table(
    "dispute_evidence",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("dispute_id", sa.Uuid()),
    sa.Column("uploader_id", sa.Uuid()),
)
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("currency", sa.String(3)),
)
events = sa.Table(
    "order_events",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("order_id", sa.Uuid()),
    sa.Column("subject", sa.String(32)),
    sa.Column("details", sa.JSON()),
)


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i15_disputes_migration", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(url: str, step: Any) -> Any:
    async def main() -> Any:
        engine = create_engine(make_settings(url))
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(step)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _in_migration(function_name: str) -> Any:
    def step(connection: Connection) -> None:
        with Operations.context(MigrationContext.configure(connection)):
            getattr(_migration(), function_name)()

    return step


def _details(connection: Connection) -> dict[str, Any]:
    rows = connection.execute(sa.select(events.c.subject, events.c.details)).all()
    return {
        subject: json.loads(details) if isinstance(details, str) else details
        for subject, details in rows
    }


def test_the_migration_fills_uploader_roles_and_turns_refunds_into_money(
    scratch_databases: ScratchDatabases,
) -> None:
    url = scratch_databases.new_url()
    buyer, owner, admin, shop, dispute, order = (uuid.uuid4() for _ in range(6))

    def arrange(connection: Connection) -> None:
        metadata.create_all(connection)
        connection.execute(sa.insert(sellers).values(id=shop, user_id=owner))
        connection.execute(sa.insert(disputes).values(id=dispute, buyer_id=buyer, seller_id=shop))
        connection.execute(
            sa.insert(evidence),
            [
                {"id": uuid.uuid4(), "dispute_id": dispute, "uploader_id": who}
                for who in (buyer, owner, admin)
            ],
        )
        connection.execute(sa.insert(orders).values(id=order, currency="EUR"))
        connection.execute(
            sa.insert(events),
            [
                {"id": uuid.uuid4(), "order_id": order, "subject": subject, "details": details}
                for subject, details in (
                    ("return", {"reason": "damaged", "refund": 1500}),
                    ("dispute", {"outcome": "partial_refund", "refund": 700}),
                    ("order", {"return_id": "r", "refund": 1500}),
                    ("review", {"about": "seller"}),
                )
            ],
        )

    _run(url, arrange)
    _run(url, _in_migration("upgrade"))

    def upgraded(connection: Connection) -> tuple[list[str], dict[str, Any]]:
        rows = connection.execute(
            sa.select(evidence.c.uploader_id, sa.column("uploader_role", sa.String()))
        ).all()
        by_uploader = {uploader: role for uploader, role in rows}
        return [by_uploader[who] for who in (buyer, owner, admin)], _details(connection)

    roles, details = _run(url, upgraded)
    assert roles == ["buyer", "seller", "admin"]
    assert details == {
        "return": {"reason": "damaged", "refund": {"amount": 1500, "currency": "EUR"}},
        "dispute": {"outcome": "partial_refund", "refund": {"amount": 700, "currency": "EUR"}},
        # The order's own step that refunds a received return.
        "order": {"return_id": "r", "refund": {"amount": 1500, "currency": "EUR"}},
        "review": {"about": "seller"},
    }

    _run(url, _in_migration("downgrade"))
    assert _run(url, _details) == {
        "return": {"reason": "damaged", "refund": 1500},
        "dispute": {"outcome": "partial_refund", "refund": 700},
        "order": {"return_id": "r", "refund": 1500},
        "review": {"about": "seller"},
    }
