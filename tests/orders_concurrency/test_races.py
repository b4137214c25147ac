"""Checkout, payment, completion, payouts and the worker under real concurrency (PostgreSQL):
real commits on pooled connections, requests interleaved with `asyncio.gather`."""

import asyncio
import uuid
from dataclasses import dataclass
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
from app.worker.runner import WorkerContext, run_once
from tests.factories import LoggedIn, assert_problem, create_user, login, register_and_login

pytestmark = pytest.mark.postgres_only

Json = dict[str, Any]

ADDRESS: Json = {
    "name": "Grace Hopper",
    "line1": "1 Harbour Street",
    "city": "Arlington",
    "postal_code": "22201",
    "country": "US",
}
PRICE = 2500
SHIPPING_FEE = 499
ORDER_TOTAL = PRICE + SHIPPING_FEE  # one unit per order
COMMISSION = 300  # 10 % of 2999, rounded half up; no fixed fee
SELLER_NET = ORDER_TOTAL - COMMISSION
LOSER_OUTCOMES = {
    (409, "insufficient_stock"),
    (409, "listing_unavailable"),
}


@dataclass(frozen=True)
class Market:
    admin: LoggedIn
    seller: LoggedIn
    seller_id: str
    category_id: str


# --- arranging through the API ----------------------------------------------------------------


async def _market(client: httpx.AsyncClient, database: Database) -> Market:
    """An admin, one approved seller and a leaf category, all real and committed."""
    async with database.session_scope() as session:
        admin_user = await create_user(session, is_admin=True, display_name="Admin")
    admin = await login(client, admin_user.email)
    seller = await register_and_login(client, display_name="Seller")
    applied = await client.post(
        "/v1/sellers",
        json={
            "shop_name": f"Shop {uuid.uuid4().hex[:10]}",
            "description": "Things for racing",
            "legal_name": "Jane Doe",
            "seller_type": "individual",
            "country": "DE",
            "contact_email": "shop@example.com",
            "contact_phone": "+49 30 1234567",
            "payout_account": "DE89370400440532013000",
        },
        headers=seller.headers,
    )
    assert applied.status_code == 201, applied.text
    seller_id: str = applied.json()["id"]
    approved = await client.post(f"/v1/admin/sellers/{seller_id}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    root = await client.post(
        "/v1/admin/categories", json={"name": f"Root {uuid.uuid4().hex[:8]}"}, headers=admin.headers
    )
    assert root.status_code == 201, root.text
    leaf = await client.post(
        "/v1/admin/categories",
        json={"name": f"Leaf {uuid.uuid4().hex[:8]}", "parent_id": root.json()["id"]},
        headers=admin.headers,
    )
    assert leaf.status_code == 201, leaf.text
    return Market(admin=admin, seller=seller, seller_id=seller_id, category_id=leaf.json()["id"])


async def _listing(client: httpx.AsyncClient, market: Market, *, quantity: int) -> str:
    created = await client.post(
        "/v1/listings",
        json={
            "title": f"Racing item {uuid.uuid4().hex[:6]}",
            "description": "Wanted by many",
            "price": {"amount": PRICE, "currency": "USD"},
            "shipping_fee": {"amount": SHIPPING_FEE, "currency": "USD"},
            "quantity": quantity,
            "condition": "new",
            "category_id": market.category_id,
        },
        headers=market.seller.headers,
    )
    assert created.status_code == 201, created.text
    listing_id: str = created.json()["id"]
    published = await client.post(
        f"/v1/listings/{listing_id}/publish", headers=market.seller.headers
    )
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "active", published.json()
    return listing_id


async def _buyers(client: httpx.AsyncClient, count: int) -> list[LoggedIn]:
    return list(
        await asyncio.gather(
            *(register_and_login(client, display_name=f"Buyer {i}") for i in range(count))
        )
    )


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def _post_checkout(
    client: httpx.AsyncClient, buyer: LoggedIn, items: list[tuple[str, int]]
) -> httpx.Response:
    return await client.post(
        "/v1/checkout",
        json={
            "items": [{"listing_id": lid, "quantity": qty} for lid, qty in items],
            "shipping_address": ADDRESS,
        },
        headers={**buyer.headers, **_key()},
    )


async def _checkout(client: httpx.AsyncClient, buyer: LoggedIn, listing_id: str) -> Json:
    response = await _post_checkout(client, buyer, [(listing_id, 1)])
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


async def _pay(
    client: httpx.AsyncClient,
    buyer: LoggedIn,
    checkout_id: str,
    key: str,
    token: str = "tok_success",
) -> httpx.Response:
    return await client.post(
        f"/v1/checkouts/{checkout_id}/pay",
        json={"payment_token": token},
        headers={**buyer.headers, "Idempotency-Key": key},
    )


async def _shipped_order(
    client: httpx.AsyncClient, market: Market, buyer: LoggedIn, listing_id: str
) -> str:
    """A one-unit order of `listing_id`, paid and shipped; returns the order id."""
    checkout = await _checkout(client, buyer, listing_id)
    paid = await _pay(client, buyer, checkout["id"], uuid.uuid4().hex)
    assert paid.status_code == 200, paid.text
    order_id: str = paid.json()["orders"][0]["id"]
    shipped = await client.post(
        f"/v1/orders/{order_id}/ship",
        json={"carrier": "DHL", "tracking_number": "JD0146 0000 1234"},
        headers=market.seller.headers,
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    return order_id


async def _assert_reconciled(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    response = await client.get("/v1/admin/ledger/reconcile", headers=admin.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True, report["violations"]
    assert report["violations"] == []


async def _scalar(database: Database, statement: Any) -> Any:
    async with database.session_scope() as session:
        return await session.scalar(statement)


async def _count(database: Database, statement: Any) -> int:
    return int(await _scalar(database, statement) or 0)


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
    (usd,) = [b for b in response.json() if b["currency"] == "USD"]
    balance: Json = usd
    return balance


# --- stock ------------------------------------------------------------------------------------


async def test_fifty_buyers_racing_for_ten_units_make_exactly_ten_orders(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=10)
    buyers = await _buyers(client, 50)

    responses = await asyncio.gather(
        *(_post_checkout(client, buyer, [(listing_id, 1)]) for buyer in buyers)
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
    assert await _count(database, select(func.count()).select_from(Order)) == 10
    assert await _count(database, select(func.count()).select_from(Checkout)) == 10
    sold = select(func.sum(OrderLine.quantity)).where(OrderLine.listing_id == uuid.UUID(listing_id))
    assert await _count(database, sold) == 10

    winners = [
        (b, r.json()) for b, r in zip(buyers, responses, strict=True) if r.status_code == 201
    ]
    paid = await asyncio.gather(
        *(_pay(client, buyer, checkout["id"], uuid.uuid4().hex) for buyer, checkout in winners)
    )
    assert [r.status_code for r in paid] == [200] * 10, [r.text for r in paid]
    assert all(r.json()["orders"][0]["status"] == "paid" for r in paid)
    captures = select(func.count()).select_from(ProviderOperation)
    assert await _count(database, captures) == 10
    escrow = select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account == Account.escrow)
    assert await _count(database, escrow) == 10 * ORDER_TOTAL
    await _assert_reconciled(client, market.admin)


async def test_checkout_of_a_sold_out_listing_is_a_conflict_not_a_404(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=1)
    first, late = await _buyers(client, 2)
    await _checkout(client, first, listing_id)

    response = await _post_checkout(client, late, [(listing_id, 1)])

    assert response.status_code == 409, response.text
    assert response.json()["code"] in {"insufficient_stock", "listing_unavailable"}


# --- payment ----------------------------------------------------------------------------------


async def test_one_pay_request_sent_five_times_at_once_captures_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=3)
    (buyer,) = await _buyers(client, 1)
    checkout = await _checkout(client, buyer, listing_id)
    key = uuid.uuid4().hex

    responses = await asyncio.gather(*(_pay(client, buyer, checkout["id"], key) for _ in range(5)))

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
    assert await _count(database, captures) == 1
    assert await _count(database, _ledger_transactions("payment", memo=reference)) == 1
    assert await _count(database, _ledger_transactions("payment")) == 1
    order_id = bodies[0]["orders"][0]["id"]
    assert await _count(database, _order_events(order_id, action="pay")) == 1
    assert await _count(database, _escrow_of(order_id)) == ORDER_TOTAL

    reused = await _pay(client, buyer, checkout["id"], key, token="tok_declined")
    assert_problem(reused, 422, "idempotency_key_reused")
    assert await _count(database, captures) == 1
    assert await _count(database, _ledger_transactions("payment")) == 1
    await _assert_reconciled(client, market.admin)


async def test_two_keys_paying_one_checkout_at_once_charge_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=3)
    (buyer,) = await _buyers(client, 1)
    checkout = await _checkout(client, buyer, listing_id)

    first, second = await asyncio.gather(
        _pay(client, buyer, checkout["id"], uuid.uuid4().hex),
        _pay(client, buyer, checkout["id"], uuid.uuid4().hex),
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
    assert await _count(database, captures) == 1
    assert await _count(database, _ledger_transactions("payment")) == 1
    order_id = checkout["orders"][0]["id"]
    assert await _count(database, _order_events(order_id, action="pay")) == 1
    assert await _count(database, _escrow_of(order_id)) == ORDER_TOTAL
    await _assert_reconciled(client, market.admin)


# --- completion -------------------------------------------------------------------------------


async def test_confirm_receipt_racing_the_auto_complete_sweep_releases_once(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    assert settings.commission_percent == 10
    assert settings.commission_fixed == 0
    assert payments_service.commission_for(settings, ORDER_TOTAL) == COMMISSION
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=5)
    buyers = await _buyers(client, 5)
    order_ids = [await _shipped_order(client, market, b, listing_id) for b in buyers]

    clock.advance(settings.auto_complete_after + timedelta(minutes=1))
    # Tokens expire on the same clock: sign in again in the future.
    buyers = [await login(client, b.email) for b in buyers]
    seller = await login(client, market.seller.email)
    admin = await login(client, market.admin.email)

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
            await _scalar(database, select(Order.status).where(Order.id == uuid.UUID(order_id)))
        ).value == "completed"
        assert await _count(database, _order_events(order_id, to_status="completed")) == 1
        completions = _ledger_transactions("completion", order_id=uuid.UUID(order_id))
        assert await _count(database, completions) == 1
        assert await _count(database, _escrow_of(order_id)) == 0

    balance = await _balance(client, seller)
    assert balance["available"] == {"amount": len(order_ids) * SELLER_NET, "currency": "USD"}
    assert balance["pending"]["amount"] == 0
    assert balance["debt"]["amount"] == 0
    commission = select(func.sum(LedgerEntry.amount)).where(
        LedgerEntry.account == Account.platform_commission
    )
    assert await _count(database, commission) == len(order_ids) * COMMISSION
    await _assert_reconciled(client, admin)


# --- payouts ----------------------------------------------------------------------------------


async def test_two_payouts_that_together_exceed_the_balance_pay_one(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=1)
    (buyer,) = await _buyers(client, 1)
    order_id = await _shipped_order(client, market, buyer, listing_id)
    confirmed = await client.post(f"/v1/orders/{order_id}/confirm-receipt", headers=buyer.headers)
    assert confirmed.status_code == 200, confirmed.text
    assert (await _balance(client, market.seller))["available"]["amount"] == SELLER_NET
    amount = 2000  # twice this is more than SELLER_NET (2699)

    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/sellers/me/payouts",
                json={"amount": {"amount": amount, "currency": "USD"}},
                headers={**market.seller.headers, **_key()},
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
    await _assert_reconciled(client, market.admin)


# --- the worker -------------------------------------------------------------------------------


async def test_two_sweeps_at_once_cancel_each_expired_checkout_exactly_once(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await _market(client, database)
    # Every checkout holds both listings, so the two sweeps contend for the same stock rows.
    first = await _listing(client, market, quantity=10)
    second = await _listing(client, market, quantity=10)
    buyers = await _buyers(client, 10)
    checkouts = await asyncio.gather(
        *(_post_checkout(client, b, [(first, 1), (second, 1)]) for b in buyers)
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
        status = await _scalar(database, select(Checkout.status).where(Checkout.id == checkout_id))
        assert status.value == "cancelled"
        assert await _count(database, _order_events(order_id, action="expire")) == 1
        order_status = await _scalar(
            database, select(Order.status).where(Order.id == uuid.UUID(order_id))
        )
        assert order_status.value == "cancelled"
    for listing_id in (first, second):
        listing = await _listing_row(database, listing_id)
        assert listing.quantity == 10
        assert listing.status.value == "active"

    again = await run_once(_worker(database, settings))
    assert again["expire_unpaid_checkouts"] == 0
    admin = await login(client, market.admin.email)
    await _assert_reconciled(client, admin)


async def test_a_unit_of_work_failing_midway_rolls_back_and_the_next_sweep_redoes_it(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, database = committed_client, committed_database
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=1)
    (buyer,) = await _buyers(client, 1)
    order_id = await _shipped_order(client, market, buyer, listing_id)
    clock.advance(settings.auto_complete_after + timedelta(minutes=1))
    seen_inside: list[str] = []

    async def crash_after_the_state_change(session: AsyncSession, *_: Any, **kw: Any) -> int:
        # Inside the unit's transaction the order is already completed and flushed...
        status = await session.scalar(select(Order.status).where(Order.id == kw["order_id"]))
        assert status is not None
        seen_inside.append(status.value)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(payments_service, "release_escrow", crash_after_the_state_change)
    crashed = await run_once(_worker(database, settings))

    assert crashed["auto_complete_orders"] == -1
    assert seen_inside == ["completed"]
    # ...yet nothing of it survived: the unit's transaction rolled back as a whole.
    order_status = await _scalar(
        database, select(Order.status).where(Order.id == uuid.UUID(order_id))
    )
    assert order_status.value == "shipped"
    assert await _count(database, _escrow_of(order_id)) == ORDER_TOTAL
    assert await _count(database, _order_events(order_id, action="auto_complete")) == 0
    assert await _count(database, _ledger_transactions("completion")) == 0

    monkeypatch.undo()
    recovered = await run_once(_worker(database, settings))

    assert recovered["auto_complete_orders"] == 1
    order_status = await _scalar(
        database, select(Order.status).where(Order.id == uuid.UUID(order_id))
    )
    assert order_status.value == "completed"
    assert await _count(database, _order_events(order_id, action="auto_complete")) == 1
    assert await _count(database, _ledger_transactions("completion")) == 1
    assert await _count(database, _escrow_of(order_id)) == 0
    assert (await run_once(_worker(database, settings)))["auto_complete_orders"] == 0
    seller = await login(client, market.seller.email)
    assert (await _balance(client, seller))["available"]["amount"] == SELLER_NET
    admin = await login(client, market.admin.email)
    await _assert_reconciled(client, admin)


async def test_a_worker_cancelled_midway_leaves_nothing_half_done(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The harsher kill: the sweep's task is cancelled while a unit is in flight."""
    client, database = committed_client, committed_database
    market = await _market(client, database)
    listing_id = await _listing(client, market, quantity=1)
    (buyer,) = await _buyers(client, 1)
    order_id = await _shipped_order(client, market, buyer, listing_id)
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

    order_status = await _scalar(
        database, select(Order.status).where(Order.id == uuid.UUID(order_id))
    )
    assert order_status.value == "shipped"
    assert await _count(database, _escrow_of(order_id)) == ORDER_TOTAL
    assert await _count(database, _order_events(order_id, action="auto_complete")) == 0

    monkeypatch.undo()
    recovered = await run_once(_worker(database, settings))

    assert recovered["auto_complete_orders"] == 1
    assert await _count(database, _ledger_transactions("completion")) == 1
    admin = await login(client, market.admin.email)
    await _assert_reconciled(client, admin)
