"""Checkout, payment, completion, payouts and the worker under real concurrency (PostgreSQL):
real commits on pooled connections, requests interleaved with `asyncio.gather`."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import Listing
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.fees.commission import CommissionTerms
from app.orders.models import Checkout, Order, OrderEvent, OrderLine
from app.payments import service as payments_service
from app.payments.models import (
    Account,
    LedgerEntry,
    LedgerTransaction,
    ProviderOperation,
    ProviderOperationKind,
)
from app.payments.provider import SandboxProvider
from app.payments.service import OrderMoney
from app.worker.runner import WorkerContext, run_once
from tests.factories.accounts import LoggedIn, login
from tests.factories.api import assert_problem, new_key
from tests.factories.orders import post_pay
from tests.factories.payments import reconcile_ok
from tests.factories.races import (
    ORDER_TOTAL,
    count,
    post_race_checkout,
    race_buyers,
    race_checkout,
    race_listing,
    race_market,
    race_shipped_order,
    race_shipped_orders,
    scalar,
)

pytestmark = pytest.mark.postgres_only

Json = dict[str, Any]


COMMISSION = 300  # 10 % of 2999, rounded half up; no fixed fee
SELLER_NET = ORDER_TOTAL - COMMISSION
LOSER_OUTCOMES = {
    (409, "insufficient_stock"),
    (409, "listing_unavailable"),
}


# --- arranging through the API ----------------------------------------------------------------


async def _listing_row(database: Database, listing_id: str) -> Listing:
    async with database.session_scope() as session:
        listing = await session.get(Listing, uuid.UUID(listing_id))
        assert listing is not None
        return listing


def _worker(database: Database, settings: Settings) -> WorkerContext:
    return WorkerContext(database, settings, SandboxProvider())


def _order_events(order_id: str, **filters: str) -> Any:
    statement = select(func.count()).select_from(OrderEvent)
    statement = statement.where(OrderEvent.order_id == uuid.UUID(order_id))
    for column, value in filters.items():
        statement = statement.where(getattr(OrderEvent, column) == value)
    return statement


def _ledger_transactions(kind: str, **filters: object) -> Any:
    statement = select(func.count()).select_from(LedgerTransaction)
    statement = statement.where(LedgerTransaction.kind == kind)
    for column, value in filters.items():
        statement = statement.where(getattr(LedgerTransaction, column) == value)
    return statement


def _escrow_of(order_id: str) -> Any:
    return select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.account == Account.escrow, LedgerEntry.order_id == uuid.UUID(order_id)
    )


async def _balance(client: httpx.AsyncClient, seller: LoggedIn) -> Json:
    response = await client.get("/v1/sellers/me/balance", headers=seller.headers)
    assert response.status_code == 200, response.text
    balance: Json = response.json()
    assert balance["currency"] == "USD"
    return balance


# --- stock ------------------------------------------------------------------------------------


async def test_fifty_buyers_racing_for_ten_units_make_exactly_ten_orders(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=10)
    buyers = await race_buyers(client, count=50)

    responses = await asyncio.gather(
        *(post_race_checkout(client, buyer=buyer, items=[(listing_id, 1)]) for buyer in buyers)
    )

    assert sum(r.status_code == 201 for r in responses) == 10
    losers = [r for r in responses if r.status_code != 201]
    assert len(losers) == 40
    for response in losers:
        assert (response.status_code, response.json()["code"]) in LOSER_OUTCOMES, response.text
        assert_problem(response, response.status_code, response.json()["code"])

    listing = await _listing_row(database, listing_id)
    assert listing.quantity == 0
    assert listing.status.value == "sold_out"
    assert await count(database, select(func.count()).select_from(Order)) == 10
    assert await count(database, select(func.count()).select_from(Checkout)) == 10
    sold = select(func.sum(OrderLine.quantity)).where(OrderLine.listing_id == uuid.UUID(listing_id))
    assert await count(database, sold) == 10

    winners = [
        (b, r.json()) for b, r in zip(buyers, responses, strict=True) if r.status_code == 201
    ]
    paid = await asyncio.gather(
        *(
            post_pay(client, who=buyer, checkout_id=checkout["id"], key=uuid.uuid4().hex)
            for buyer, checkout in winners
        )
    )
    assert [r.status_code for r in paid] == [200] * 10, [r.text for r in paid]
    assert all(r.json()["orders"][0]["status"] == "paid" for r in paid)
    captures = select(func.count()).select_from(ProviderOperation)
    assert await count(database, captures) == 10
    escrow = select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account == Account.escrow)
    assert await count(database, escrow) == 10 * ORDER_TOTAL
    await reconcile_ok(client, admin=market.admin)


async def test_checkout_of_a_sold_out_listing_is_a_conflict_not_a_404(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=1)
    first, late = await race_buyers(client, count=2)
    await race_checkout(client, buyer=first, listing_id=listing_id)

    response = await post_race_checkout(client, buyer=late, items=[(listing_id, 1)])

    assert response.status_code == 409, response.text
    assert response.json()["code"] in {"insufficient_stock", "listing_unavailable"}


# --- payment ----------------------------------------------------------------------------------


async def test_one_pay_request_sent_five_times_at_once_captures_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=3)
    (buyer,) = await race_buyers(client, count=1)
    checkout = await race_checkout(client, buyer=buyer, listing_id=listing_id)
    key = uuid.uuid4().hex

    responses = await asyncio.gather(
        *(post_pay(client, who=buyer, checkout_id=checkout["id"], key=key) for _ in range(5))
    )

    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies), bodies
    assert bodies[0]["status"] == "paid"
    assert bodies[0]["total"] == {"amount": ORDER_TOTAL, "currency": "USD"}
    # Exactly one request did the work; the others replayed its stored answer.
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 4

    reference = f"checkout:{checkout['id']}"
    captures = (
        select(func.count())
        .select_from(ProviderOperation)
        .where(
            ProviderOperation.kind == ProviderOperationKind.capture,
            ProviderOperation.reference == reference,
        )
    )
    assert await count(database, captures) == 1
    assert await count(database, _ledger_transactions("payment", memo=reference)) == 1
    assert await count(database, _ledger_transactions("payment")) == 1
    order_id = bodies[0]["orders"][0]["id"]
    assert await count(database, _order_events(order_id, action="pay")) == 1
    assert await count(database, _escrow_of(order_id)) == ORDER_TOTAL

    reused = await post_pay(
        client, who=buyer, checkout_id=checkout["id"], key=key, token="tok_declined"
    )
    assert_problem(reused, 422, "idempotency_key_reused")
    assert await count(database, captures) == 1
    assert await count(database, _ledger_transactions("payment")) == 1
    await reconcile_ok(client, admin=market.admin)


async def test_two_keys_paying_one_checkout_at_once_charge_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=3)
    (buyer,) = await race_buyers(client, count=1)
    checkout = await race_checkout(client, buyer=buyer, listing_id=listing_id)

    first, second = await asyncio.gather(
        post_pay(client, who=buyer, checkout_id=checkout["id"], key=uuid.uuid4().hex),
        post_pay(client, who=buyer, checkout_id=checkout["id"], key=uuid.uuid4().hex),
    )

    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], [first.text, second.text]
    loser = first if first.status_code == 409 else second
    assert_problem(loser, 409, "invalid_transition")
    captures = (
        select(func.count())
        .select_from(ProviderOperation)
        .where(ProviderOperation.kind == ProviderOperationKind.capture)
    )
    assert await count(database, captures) == 1
    assert await count(database, _ledger_transactions("payment")) == 1
    order_id = checkout["orders"][0]["id"]
    assert await count(database, _order_events(order_id, action="pay")) == 1
    assert await count(database, _escrow_of(order_id)) == ORDER_TOTAL
    await reconcile_ok(client, admin=market.admin)


# --- completion -------------------------------------------------------------------------------


async def test_confirm_receipt_racing_the_auto_complete_sweep_releases_once(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    assert settings.commission_percent == 10
    assert settings.commission_fixed == 0
    terms = CommissionTerms.of_lines([(ORDER_TOTAL, settings.commission_percent)], 0)
    assert terms.due(ORDER_TOTAL, ORDER_TOTAL) == COMMISSION
    market = await race_market(client, database)
    buyers, order_ids = await race_shipped_orders(client, market=market, count=5)

    clock.advance(settings.auto_complete_after + timedelta(minutes=1))
    # Tokens expire on the same clock: sign in again in the future.
    buyers = [await login(client, email=b.email) for b in buyers]
    seller = await login(client, email=market.seller.email)
    admin = await login(client, email=market.admin.email)

    confirms, (sweep_a, sweep_b) = await asyncio.gather(
        asyncio.gather(
            *(
                client.post(f"/v1/orders/{order_id}/confirm-receipt", headers=buyer.headers)
                for buyer, order_id in zip(buyers, order_ids, strict=True)
            )
        ),
        asyncio.gather(
            run_once(_worker(database, settings)), run_once(_worker(database, settings))
        ),
    )

    assert -1 not in sweep_a.values(), sweep_a
    assert -1 not in sweep_b.values(), sweep_b
    confirmed = 0
    for response in confirms:
        if response.status_code == 200:
            assert response.json()["status"] == "completed"
            confirmed += 1
        else:
            assert_problem(response, 409, "invalid_transition")
    auto_completed = sweep_a["auto_complete_orders"] + sweep_b["auto_complete_orders"]
    assert confirmed + auto_completed == len(order_ids), (confirmed, sweep_a, sweep_b)

    for order_id in order_ids:
        assert (
            await scalar(database, select(Order.status).where(Order.id == uuid.UUID(order_id)))
        ).value == "completed"
        assert await count(database, _order_events(order_id, to_status="completed")) == 1
        completions = _ledger_transactions("completion", order_id=uuid.UUID(order_id))
        assert await count(database, completions) == 1
        assert await count(database, _escrow_of(order_id)) == 0

    balance = await _balance(client, seller)
    assert balance["available"] == {"amount": len(order_ids) * SELLER_NET, "currency": "USD"}
    assert balance["pending"]["amount"] == 0
    assert balance["debt"]["amount"] == 0
    commission = select(func.sum(LedgerEntry.amount)).where(
        LedgerEntry.account == Account.platform_commission
    )
    assert await count(database, commission) == len(order_ids) * COMMISSION
    await reconcile_ok(client, admin=admin)


# --- payouts ----------------------------------------------------------------------------------


async def test_two_payouts_that_together_exceed_the_balance_pay_one(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=1)
    (buyer,) = await race_buyers(client, count=1)
    order_id = await race_shipped_order(client, market=market, buyer=buyer, listing_id=listing_id)
    confirmed = await client.post(f"/v1/orders/{order_id}/confirm-receipt", headers=buyer.headers)
    assert confirmed.status_code == 200, confirmed.text
    assert (await _balance(client, market.seller))["available"]["amount"] == SELLER_NET
    amount = 2000  # twice this is more than SELLER_NET (2699)

    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/sellers/me/payouts",
                json={"amount": {"amount": amount, "currency": "USD"}},
                headers={**market.seller.headers, "Idempotency-Key": new_key()},
            )
            for _ in range(2)
        )
    )

    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    assert_problem(next(r for r in responses if r.status_code == 409), 409, "insufficient_balance")
    balance = await _balance(client, market.seller)
    assert balance["available"]["amount"] == SELLER_NET - amount
    assert balance["in_transit"]["amount"] == amount
    assert balance["debt"]["amount"] == 0
    negative = (
        select(LedgerEntry.owner_id)
        .where(LedgerEntry.account == Account.seller_available)
        .group_by(LedgerEntry.owner_id)
        .having(func.sum(LedgerEntry.amount) < 0)
    )
    async with database.session_scope() as session:
        assert (await session.scalars(negative)).all() == []

    done = await run_once(_worker(database, settings))
    assert done["settle_payouts"] == 1
    settled = await _balance(client, market.seller)
    assert settled["available"]["amount"] == SELLER_NET - amount
    assert settled["in_transit"]["amount"] == 0
    await reconcile_ok(client, admin=market.admin)


# --- the worker -------------------------------------------------------------------------------


async def test_two_sweeps_at_once_expire_each_unpaid_checkout_exactly_once(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    # Every checkout holds both listings, so the two sweeps contend for the same stock rows.
    first = await race_listing(client, market=market, quantity=10)
    second = await race_listing(client, market=market, quantity=10)
    buyers = await race_buyers(client, count=10)
    checkouts = await asyncio.gather(
        *(post_race_checkout(client, buyer=b, items=[(first, 1), (second, 1)]) for b in buyers)
    )
    assert [r.status_code for r in checkouts] == [201] * 10, [r.text for r in checkouts]
    order_ids = [c.json()["orders"][0]["id"] for c in checkouts]
    for listing_id in (first, second):
        assert (await _listing_row(database, listing_id)).status.value == "sold_out"

    clock.advance(settings.payment_expiry + timedelta(seconds=1))
    sweep_a, sweep_b = await asyncio.gather(
        run_once(_worker(database, settings)), run_once(_worker(database, settings))
    )

    assert -1 not in sweep_a.values(), sweep_a
    assert -1 not in sweep_b.values(), sweep_b
    assert sweep_a["expire_unpaid_checkouts"] + sweep_b["expire_unpaid_checkouts"] == 10
    for response, order_id in zip(checkouts, order_ids, strict=True):
        checkout_id = uuid.UUID(response.json()["id"])
        status = await scalar(database, select(Checkout.status).where(Checkout.id == checkout_id))
        assert status.value == "expired"
        assert await count(database, _order_events(order_id, action="expire")) == 1
        order_status = await scalar(
            database, select(Order.status).where(Order.id == uuid.UUID(order_id))
        )
        assert order_status.value == "cancelled"
    for listing_id in (first, second):
        listing = await _listing_row(database, listing_id)
        assert listing.quantity == 10
        assert listing.status.value == "active"

    again = await run_once(_worker(database, settings))
    assert again["expire_unpaid_checkouts"] == 0
    admin = await login(client, email=market.admin.email)
    await reconcile_ok(client, admin=admin)


async def test_a_unit_of_work_failing_midway_rolls_back_and_the_next_sweep_redoes_it(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=1)
    (buyer,) = await race_buyers(client, count=1)
    order_id = await race_shipped_order(client, market=market, buyer=buyer, listing_id=listing_id)
    clock.advance(settings.auto_complete_after + timedelta(minutes=1))
    seen_inside: list[str] = []

    async def crash_after_the_state_change(
        session: AsyncSession, _settings: Settings, money: OrderMoney, *_: Any
    ) -> int:
        # Inside the unit's transaction the order is already completed and flushed...
        status = await session.scalar(select(Order.status).where(Order.id == money.order_id))
        assert status is not None
        seen_inside.append(status.value)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(payments_service, "release_escrow", crash_after_the_state_change)
    crashed = await run_once(_worker(database, settings))

    assert crashed["auto_complete_orders"] == -1
    assert seen_inside == ["completed"]
    # ...yet nothing of it survived: the unit's transaction rolled back as a whole.
    order_status = await scalar(
        database, select(Order.status).where(Order.id == uuid.UUID(order_id))
    )
    assert order_status.value == "shipped"
    assert await count(database, _escrow_of(order_id)) == ORDER_TOTAL
    assert await count(database, _order_events(order_id, action="auto_complete")) == 0
    assert await count(database, _ledger_transactions("completion")) == 0

    monkeypatch.undo()
    recovered = await run_once(_worker(database, settings))

    assert recovered["auto_complete_orders"] == 1
    order_status = await scalar(
        database, select(Order.status).where(Order.id == uuid.UUID(order_id))
    )
    assert order_status.value == "completed"
    assert await count(database, _order_events(order_id, action="auto_complete")) == 1
    assert await count(database, _ledger_transactions("completion")) == 1
    assert await count(database, _escrow_of(order_id)) == 0
    assert (await run_once(_worker(database, settings)))["auto_complete_orders"] == 0
    seller = await login(client, email=market.seller.email)
    assert (await _balance(client, seller))["available"]["amount"] == SELLER_NET
    admin = await login(client, email=market.admin.email)
    await reconcile_ok(client, admin=admin)


async def test_a_worker_cancelled_midway_leaves_nothing_half_done(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The harsher kill: the sweep's task is cancelled while a unit is in flight."""
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=1)
    (buyer,) = await race_buyers(client, count=1)
    order_id = await race_shipped_order(client, market=market, buyer=buyer, listing_id=listing_id)
    clock.advance(settings.auto_complete_after + timedelta(minutes=1))
    reached, never = asyncio.Event(), asyncio.Event()
    real_release = payments_service.release_escrow

    async def hang_after_the_state_change(*args: Any, **kwargs: Any) -> int:
        reached.set()
        await never.wait()
        return await real_release(*args, **kwargs)

    monkeypatch.setattr(payments_service, "release_escrow", hang_after_the_state_change)
    sweep = asyncio.create_task(run_once(_worker(database, settings)))
    await asyncio.wait_for(reached.wait(), timeout=30)
    sweep.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sweep

    order_status = await scalar(
        database, select(Order.status).where(Order.id == uuid.UUID(order_id))
    )
    assert order_status.value == "shipped"
    assert await count(database, _escrow_of(order_id)) == ORDER_TOTAL
    assert await count(database, _order_events(order_id, action="auto_complete")) == 0

    monkeypatch.undo()
    recovered = await run_once(_worker(database, settings))

    assert recovered["auto_complete_orders"] == 1
    assert await count(database, _ledger_transactions("completion")) == 1
    admin = await login(client, email=market.admin.email)
    await reconcile_ok(client, admin=admin)
