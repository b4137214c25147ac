"""Disputes under real concurrency (PostgreSQL): two admins deciding at once, and a buyer
opening a dispute while the worker auto-completes the order."""

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.payments.models import LedgerTransaction, ProviderOperation, ProviderOperationKind
from app.payments.provider import SandboxProvider
from app.worker.runner import WorkerContext, run_once
from tests.factories.accounts import login, register_and_login
from tests.factories.payments import reconcile_ok
from tests.factories.races import ORDER_TOTAL, count, race_listing, race_market, race_shipped_order

pytestmark = pytest.mark.postgres_only


async def _open_dispute(
    client: httpx.AsyncClient, buyer_headers: dict[str, str], order_id: str
) -> httpx.Response:
    return await client.post(
        f"/v1/orders/{order_id}/disputes",
        json={"reason": "damaged", "description": "Broken", "requested_outcome": "refund_buyer"},
        headers=buyer_headers,
    )


async def test_two_admins_resolving_at_once_move_the_money_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    second_admin = await login(client, email=market.admin.email)  # another session of an admin
    buyer = await register_and_login(client)
    order_id = await race_shipped_order(
        client,
        market=market,
        buyer=buyer,
        listing_id=await race_listing(client, market=market, quantity=1),
    )
    opened = await _open_dispute(client, buyer.headers, order_id)
    assert opened.status_code == 201, opened.text
    path = f"/v1/admin/disputes/{opened.json()['id']}/resolve"

    first, second = await asyncio.gather(
        client.post(
            path,
            json={"outcome": "partial_refund", "refund_amount": {"amount": 500, "currency": "USD"}},
            headers={**market.admin.headers, "Idempotency-Key": uuid.uuid4().hex},
        ),
        client.post(
            path,
            json={"outcome": "refund_buyer"},
            headers={**second_admin.headers, "Idempotency-Key": uuid.uuid4().hex},
        ),
    )

    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "invalid_transition"
    winner = (first if first.status_code == 200 else second).json()
    refund = winner["refund"]["amount"]
    assert refund in (500, ORDER_TOTAL)
    refunds = await count(
        database,
        select(func.count())
        .select_from(ProviderOperation)
        .where(ProviderOperation.kind == ProviderOperationKind.refund),
    )
    refund_transactions = await count(
        database,
        select(func.count())
        .select_from(LedgerTransaction)
        .where(
            LedgerTransaction.kind == "refund", LedgerTransaction.order_id == uuid.UUID(order_id)
        ),
    )
    assert (refunds, refund_transactions) == (1, 1)
    await reconcile_ok(client, admin=market.admin)


async def test_a_dispute_racing_the_auto_complete_sweep_leaves_consistent_books(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    buyer = await register_and_login(client)
    order_ids = [
        await race_shipped_order(
            client,
            market=market,
            buyer=buyer,
            listing_id=await race_listing(client, market=market, quantity=1),
        )
        for _ in range(4)
    ]
    clock.advance(settings.auto_complete_after + timedelta(seconds=1))
    buyer = await login(client, email=buyer.email)
    admin = await login(client, email=market.admin.email)
    context = WorkerContext(database, settings, SandboxProvider())

    results = await asyncio.gather(
        run_once(context), *(_open_dispute(client, buyer.headers, o) for o in order_ids)
    )

    sweep, *opened = results
    assert isinstance(sweep, dict)
    # Either the dispute came first (the sweep skips the order) or the order completed first
    # and the dispute froze its proceeds; both are fine, and every dispute was opened.
    assert all(isinstance(r, httpx.Response) and r.status_code == 201 for r in opened), [
        r.text for r in opened if isinstance(r, httpx.Response)
    ]
    for order_id in order_ids:
        order = await client.get(f"/v1/orders/{order_id}", headers=buyer.headers)
        assert order.json()["status"] == "disputed"
    await reconcile_ok(client, admin=admin)
