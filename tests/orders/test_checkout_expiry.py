"""Issue 15: an unpaid checkout that ran out of time is `expired` (its orders stay
`cancelled`, saying they expired); one whose buyer cancelled every order stays `cancelled`;
and the migration tells the two apart among past checkouts."""

import importlib.util
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.orders import get_checkout, market, post_cancel, relogin_market, unpaid_order
from tests.factories.worker import sweep

MIGRATION = (
    Path(__file__).resolve().parents[2] / "migrations/versions/2026-12-07-1101_i15_orders.py"
)


def _mark_expired_sql() -> str:
    spec = importlib.util.spec_from_file_location("i15_orders_migration", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    statement: str = module.MARK_EXPIRED
    return statement


async def test_expired_and_buyer_cancelled_checkouts_are_told_apart_now_and_in_the_past(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    cancelled = await unpaid_order(client, market=m)
    response = await post_cancel(client, who=m.buyer, order_id=cancelled["id"])
    assert response.status_code == 200, response.text
    left = await unpaid_order(client, market=m)

    clock.advance(settings.payment_expiry + timedelta(minutes=1))
    assert (await sweep(database, settings))["expire_unpaid_checkouts"] == 1
    m = await relogin_market(client, market=m)

    expired = await get_checkout(client, who=m.buyer, checkout_id=left["checkout_id"])
    assert expired["status"] == "expired"
    assert expired["allowed_actions"] == []
    (order,) = expired["orders"]
    assert order["status"] == "cancelled"
    assert "expired" in order["cancel_reason"]
    by_buyer = await get_checkout(client, who=m.buyer, checkout_id=cancelled["checkout_id"])
    assert by_buyer["status"] == "cancelled"

    # Rows written before this release said `cancelled` for both; the migration finds the
    # expired one by its orders' timeline.
    await session.execute(
        text("UPDATE checkouts SET status = 'cancelled' WHERE status = 'expired'")
    )
    await session.execute(text(_mark_expired_sql()))
    await session.flush()
    rows = (await session.execute(text("SELECT status FROM checkouts"))).all()
    assert sorted(row[0] for row in rows) == ["cancelled", "expired"]
    assert (await get_checkout(client, who=m.buyer, checkout_id=left["checkout_id"]))[
        "status"
    ] == "expired"
