"""The worker's time-based order work: unpaid checkouts expire, shipped orders auto-complete,
held proceeds become available. The clock is moved, never slept on."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import relogin
from tests.factories.apps import client_with, make_settings
from tests.factories.catalog import listing_for_sale, read_listing, search_ids
from tests.factories.orders import (
    checkout,
    confirm,
    get_checkout,
    get_order,
    market,
    order_events,
    paid_order,
    ship,
)
from tests.factories.payments import (
    amounts,
    balance,
    escrow_of,
    ledger_kinds,
    platform_revenue,
    provider_book,
    reconcile_ok,
)
from tests.factories.worker import sweep


async def test_an_unpaid_checkout_past_its_expiry_expires_and_the_stock_returns(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=2)
    other = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=5)
    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": listing["id"], "quantity": 2},
            {"listing_id": other["id"], "quantity": 1},
        ],
    )
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))[
        "status"
    ] == "sold_out"
    assert listing["id"] not in await search_ids(client, seller=m.seller_id)

    clock.advance(settings.payment_expiry - timedelta(seconds=1))
    early = await sweep(database, settings)
    assert early["expire_unpaid_checkouts"] == 0

    clock.advance(timedelta(seconds=2))
    done = await sweep(database, settings)

    assert done["expire_unpaid_checkouts"] == 1
    buyer, seller = await relogin(client, who=m.buyer), await relogin(client, who=m.seller)
    expired = await get_checkout(client, who=buyer, checkout_id=created["id"])
    assert expired["status"] == "expired"
    (order,) = expired["orders"]
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "expired: payment not received in time"
    restocked = await read_listing(client, who=seller, listing_id=listing["id"])
    assert (restocked["quantity"], restocked["status"]) == (2, "active")
    assert (await read_listing(client, who=seller, listing_id=other["id"]))["quantity"] == 5
    assert listing["id"] in await search_ids(client, seller=m.seller_id)
    events = await order_events(client, who=buyer, order_id=order["id"])
    assert [(e["action"], e["actor_role"], e["actor_id"], e["to_status"]) for e in events] == [
        ("create", "buyer", m.buyer.user_id, "pending_payment"),
        ("expire", "system", None, "cancelled"),
    ]
    # Nothing was charged; a second sweep finds nothing more to do.
    assert await provider_book(session) == []
    assert (await sweep(database, settings))["expire_unpaid_checkouts"] == 0
    assert (await read_listing(client, who=seller, listing_id=listing["id"]))["quantity"] == 2
    await reconcile_ok(client, admin=await relogin(client, who=m.admin))


async def test_a_paid_checkout_does_not_expire(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing, order = await paid_order(client, market=m)

    clock.advance(settings.payment_expiry + timedelta(hours=1))
    done = await sweep(database, settings)

    assert done["expire_unpaid_checkouts"] == 0
    buyer = await relogin(client, who=m.buyer)
    assert (await get_order(client, who=buyer, order_id=order["id"]))["status"] == "paid"
    assert (await read_listing(client, who=buyer, listing_id=listing["id"]))["quantity"] == 4
    assert await escrow_of(session, order_id=order["id"]) == 1500
    await reconcile_ok(client, admin=await relogin(client, who=m.admin))


async def test_a_shipped_order_auto_completes_and_releases_the_escrow(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=3333, shipping=0)
    commission = 333  # 10 % of 3333 is 333.3, rounded half up
    await ship(client, who=m.seller, order_id=order["id"])

    clock.advance(settings.auto_complete_after - timedelta(seconds=1))
    assert (await sweep(database, settings))["auto_complete_orders"] == 0
    seller = await relogin(client, who=m.seller)
    assert (await get_order(client, who=seller, order_id=order["id"]))["status"] == "shipped"
    assert await balance(client, seller=seller) == amounts()

    clock.advance(timedelta(seconds=2))
    done = await sweep(database, settings)

    assert done["auto_complete_orders"] == 1
    completed = await get_order(client, who=seller, order_id=order["id"])
    assert completed["status"] == "completed"
    assert completed["completed_at"] is not None
    assert await balance(client, seller=seller) == amounts(available=3333 - commission)
    assert await platform_revenue(session) == commission
    assert await escrow_of(session, order_id=order["id"]) == 0
    events = await order_events(client, who=seller, order_id=order["id"])
    assert (events[-1]["action"], events[-1]["actor_role"], events[-1]["actor_id"]) == (
        "auto_complete",
        "system",
        None,
    )
    # Completed once: another sweep releases nothing more.
    assert (await sweep(database, settings))["auto_complete_orders"] == 0
    assert await ledger_kinds(session) == ["payment", "completion"]
    assert await balance(client, seller=seller) == amounts(available=3000)
    await reconcile_ok(client, admin=await relogin(client, who=m.admin))


async def test_a_confirmed_order_is_not_completed_again_by_the_sweep(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    await ship(client, who=m.seller, order_id=order["id"])
    await confirm(client, who=m.buyer, order_id=order["id"])

    clock.advance(settings.auto_complete_after + timedelta(days=1))
    done = await sweep(database, settings)

    assert done["auto_complete_orders"] == 0
    assert await ledger_kinds(session) == ["payment", "completion"]
    assert await balance(client, seller=await relogin(client, who=m.seller)) == amounts(
        available=1350
    )
    await reconcile_ok(client, admin=await relogin(client, who=m.admin))


async def test_with_a_payout_hold_proceeds_are_pending_until_the_sweep_after_the_hold(
    session: AsyncSession, database: Database, settings: Settings
) -> None:
    held = make_settings(settings.database_url, payout_hold=3600)
    assert held.payout_hold == timedelta(hours=1)
    async with client_with(database, held) as client:
        m = await market(client, session)
        _, order = await paid_order(client, market=m, price=2005, shipping=0)
        commission = 201  # 10 % of 2005 is 200.5, rounded half up
        net = 2005 - commission
        await ship(client, who=m.seller, order_id=order["id"])
        await confirm(client, who=m.buyer, order_id=order["id"])

        assert await balance(client, seller=m.seller) == amounts(pending=net)
        assert await platform_revenue(session) == commission
        assert await escrow_of(session, order_id=order["id"]) == 0
        await reconcile_ok(client, admin=m.admin)

        clock.advance(timedelta(minutes=59))
        assert (await sweep(database, held))["release_payout_holds"] == 0
        seller = await relogin(client, who=m.seller)
        assert await balance(client, seller=seller) == amounts(pending=1804)

        clock.advance(timedelta(minutes=1))
        done = await sweep(database, held)

        assert done["release_payout_holds"] == 1
        assert await balance(client, seller=seller) == amounts(available=1804)
        assert await ledger_kinds(session) == ["payment", "completion", "hold_released"]
        assert (await sweep(database, held))["release_payout_holds"] == 0
        assert await balance(client, seller=seller) == amounts(available=1804)
        await reconcile_ok(client, admin=await relogin(client, who=m.admin))


async def test_with_a_payout_hold_the_auto_completed_order_is_held_too(
    session: AsyncSession, database: Database, settings: Settings
) -> None:
    held = make_settings(settings.database_url, payout_hold=3600)
    async with client_with(database, held) as client:
        m = await market(client, session)
        _, order = await paid_order(client, market=m, price=1000, shipping=0)
        await ship(client, who=m.seller, order_id=order["id"])

        clock.advance(held.auto_complete_after + timedelta(seconds=1))
        done = await sweep(database, held)

        assert done["auto_complete_orders"] == 1
        assert done["release_payout_holds"] == 0
        seller = await relogin(client, who=m.seller)
        assert await balance(client, seller=seller) == amounts(pending=900)

        clock.advance(timedelta(hours=1))
        assert (await sweep(database, held))["release_payout_holds"] == 1
        assert await balance(client, seller=await relogin(client, who=m.seller)) == amounts(
            available=900
        )
        await reconcile_ok(client, admin=await relogin(client, who=m.admin))
