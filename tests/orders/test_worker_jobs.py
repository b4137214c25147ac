"""The worker's time-based order work: unpaid checkouts expire, shipped orders auto-complete,
held proceeds become available. The clock is moved, never slept on."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.main import create_app
from tests.conftest import make_settings
from tests.orders.helpers import (
    amounts,
    balance,
    checkout,
    confirm,
    escrow_of,
    get_checkout,
    get_listing,
    get_order,
    ledger_kinds,
    live_listing,
    market,
    order_events,
    paid_order,
    platform_revenue,
    provider_book,
    reconcile_ok,
    relogin,
    search_ids,
    ship,
    sweep,
)


async def test_an_unpaid_checkout_past_its_expiry_is_cancelled_and_the_stock_returns(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await live_listing(client, m.seller, m.category_id, quantity=2)
    other = await live_listing(client, m.seller, m.category_id, quantity=5)
    created = await checkout(
        client,
        m.buyer,
        [{"listing_id": listing["id"], "quantity": 2}, {"listing_id": other["id"], "quantity": 1}],
    )
    assert (await get_listing(client, m.seller, listing["id"]))["status"] == "sold_out"
    assert listing["id"] not in await search_ids(client, m.seller_id)

    clock.advance(settings.payment_expiry - timedelta(seconds=1))
    early = await sweep(database, settings)
    assert early["expire_unpaid_checkouts"] == 0

    clock.advance(timedelta(seconds=2))
    done = await sweep(database, settings)

    assert done["expire_unpaid_checkouts"] == 1
    buyer, seller = await relogin(client, m.buyer), await relogin(client, m.seller)
    expired = await get_checkout(client, buyer, created["id"])
    assert expired["status"] == "cancelled"
    (order,) = expired["orders"]
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "payment not received in time"
    restocked = await get_listing(client, seller, listing["id"])
    assert (restocked["quantity"], restocked["status"]) == (2, "active")
    assert (await get_listing(client, seller, other["id"]))["quantity"] == 5
    assert listing["id"] in await search_ids(client, m.seller_id)
    events = await order_events(client, buyer, order["id"])
    assert [(e["action"], e["actor_role"], e["actor_id"], e["to_status"]) for e in events] == [
        ("create", "buyer", m.buyer.user_id, "pending_payment"),
        ("expire", "system", None, "cancelled"),
    ]
    # Nothing was charged; a second sweep finds nothing more to do.
    assert await provider_book(session) == []
    assert (await sweep(database, settings))["expire_unpaid_checkouts"] == 0
    assert (await get_listing(client, seller, listing["id"]))["quantity"] == 2
    await reconcile_ok(client, await relogin(client, m.admin))


async def test_a_paid_checkout_does_not_expire(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing, order = await paid_order(client, m)

    clock.advance(settings.payment_expiry + timedelta(hours=1))
    done = await sweep(database, settings)

    assert done["expire_unpaid_checkouts"] == 0
    buyer = await relogin(client, m.buyer)
    assert (await get_order(client, buyer, order["id"]))["status"] == "paid"
    assert (await get_listing(client, buyer, listing["id"]))["quantity"] == 4
    assert await escrow_of(session, order["id"]) == 1500
    await reconcile_ok(client, await relogin(client, m.admin))


async def test_a_shipped_order_auto_completes_and_releases_the_escrow(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, m, price=3333, shipping=0)
    commission = 333  # 10 % of 3333 is 333.3, rounded half up
    await ship(client, m.seller, order["id"])

    clock.advance(settings.auto_complete_after - timedelta(seconds=1))
    assert (await sweep(database, settings))["auto_complete_orders"] == 0
    seller = await relogin(client, m.seller)
    assert (await get_order(client, seller, order["id"]))["status"] == "shipped"
    assert await balance(client, seller) == amounts()

    clock.advance(timedelta(seconds=2))
    done = await sweep(database, settings)

    assert done["auto_complete_orders"] == 1
    completed = await get_order(client, seller, order["id"])
    assert completed["status"] == "completed"
    assert completed["completed_at"] is not None
    assert await balance(client, seller) == amounts(available=3333 - commission)
    assert await platform_revenue(session) == commission
    assert await escrow_of(session, order["id"]) == 0
    events = await order_events(client, seller, order["id"])
    assert (events[-1]["action"], events[-1]["actor_role"], events[-1]["actor_id"]) == (
        "auto_complete",
        "system",
        None,
    )
    # Completed once: another sweep releases nothing more.
    assert (await sweep(database, settings))["auto_complete_orders"] == 0
    assert await ledger_kinds(session) == ["payment", "completion"]
    assert await balance(client, seller) == amounts(available=3000)
    await reconcile_ok(client, await relogin(client, m.admin))


async def test_a_confirmed_order_is_not_completed_again_by_the_sweep(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, m)
    await ship(client, m.seller, order["id"])
    await confirm(client, m.buyer, order["id"])

    clock.advance(settings.auto_complete_after + timedelta(days=1))
    done = await sweep(database, settings)

    assert done["auto_complete_orders"] == 0
    assert await ledger_kinds(session) == ["payment", "completion"]
    assert await balance(client, await relogin(client, m.seller)) == amounts(available=1350)
    await reconcile_ok(client, await relogin(client, m.admin))


@asynccontextmanager
async def _client_with(database: Database, held: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with other settings, sharing this test's database transaction."""
    app = create_app(held, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_with_a_payout_hold_proceeds_are_pending_until_the_sweep_after_the_hold(
    session: AsyncSession, database: Database, settings: Settings
) -> None:
    held = make_settings(settings.database_url, payout_hold=3600)
    assert held.payout_hold == timedelta(hours=1)
    async with _client_with(database, held) as client:
        m = await market(client, session)
        _, order = await paid_order(client, m, price=2005, shipping=0)
        commission = 201  # 10 % of 2005 is 200.5, rounded half up
        net = 2005 - commission
        await ship(client, m.seller, order["id"])
        await confirm(client, m.buyer, order["id"])

        assert await balance(client, m.seller) == amounts(pending=net)
        assert await platform_revenue(session) == commission
        assert await escrow_of(session, order["id"]) == 0
        await reconcile_ok(client, m.admin)

        clock.advance(timedelta(minutes=59))
        assert (await sweep(database, held))["release_payout_holds"] == 0
        seller = await relogin(client, m.seller)
        assert await balance(client, seller) == amounts(pending=1804)

        clock.advance(timedelta(minutes=1))
        done = await sweep(database, held)

        assert done["release_payout_holds"] == 1
        assert await balance(client, seller) == amounts(available=1804)
        assert await ledger_kinds(session) == ["payment", "completion", "hold_released"]
        assert (await sweep(database, held))["release_payout_holds"] == 0
        assert await balance(client, seller) == amounts(available=1804)
        await reconcile_ok(client, await relogin(client, m.admin))


async def test_with_a_payout_hold_the_auto_completed_order_is_held_too(
    session: AsyncSession, database: Database, settings: Settings
) -> None:
    held = make_settings(settings.database_url, payout_hold=3600)
    async with _client_with(database, held) as client:
        m = await market(client, session)
        _, order = await paid_order(client, m, price=1000, shipping=0)
        await ship(client, m.seller, order["id"])

        clock.advance(held.auto_complete_after + timedelta(seconds=1))
        done = await sweep(database, held)

        assert done["auto_complete_orders"] == 1
        assert done["release_payout_holds"] == 0
        seller = await relogin(client, m.seller)
        assert await balance(client, seller) == amounts(pending=900)

        clock.advance(timedelta(hours=1))
        assert (await sweep(database, held))["release_payout_holds"] == 1
        assert await balance(client, await relogin(client, m.seller)) == amounts(available=900)
        await reconcile_ok(client, await relogin(client, m.admin))
