"""A return travels as a parcel of the order: the buyer's carrier and number are checked like
the seller's, the carrier's scans show on the return, and a delivered scan starts the
seller's inspection time, after which the return counts as received (and refunds)."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import relogin
from tests.factories.api import assert_problem
from tests.factories.disputes import completed_order, post_return, return_step, step_ok
from tests.factories.orders import market as new_market
from tests.factories.orders import order_events, relogin_market
from tests.factories.payments import amounts, balance, reconcile_ok
from tests.factories.worker import sweep

NET = amounts(available=1350)
"""The seller's balance after the 1500 order completed (10% commission)."""


async def test_a_delivered_return_parcel_is_received_after_the_inspection_time(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await new_market(client, session)
    order = await completed_order(client, market=m, price=1000, shipping=500)
    requested = await post_return(client, who=m.buyer, order=order, reason="damaged")
    assert requested.status_code == 201, requested.text
    return_id = requested.json()["id"]
    await step_ok(client, who=m.seller, return_id=return_id, step="approve")

    sent = await step_ok(
        client,
        who=m.buyer,
        return_id=return_id,
        step="ship-back",
        body={"carrier": "sandbox", "tracking_number": "sbx00000003-delivered-60"},
    )

    assert sent["status"] == "shipped_back"
    assert (sent["carrier"], sent["tracking_number"]) == ("sandbox", "SBX00000003-DELIVERED-60")
    parcel = sent["parcel"]
    assert (parcel["status"], parcel["order_id"]) == ("in_transit", order["id"])
    assert [line["quantity"] for line in parcel["lines"]] == [1]
    # A return's parcel is not the order's delivery: the completed order keeps its dates.
    assert order["delivered_at"] is not None

    clock.advance(timedelta(minutes=61))
    done = await sweep(database, settings)

    assert done["poll_shipments"] == 1
    assert done["receive_delivered_returns"] == 0  # the seller's inspection time runs
    m = await relogin_market(client, market=m)
    seller = m.seller
    notices = await client.get("/v1/notifications", headers=seller.headers)
    assert notices.status_code == 200, notices.text
    newest = notices.json()["items"][0]
    assert (newest["type"], newest["resource_type"], newest["resource_id"]) == (
        "shipment.return_delivered",
        "return",
        return_id,
    )
    waiting = await client.get(f"/v1/returns/{return_id}", headers=seller.headers)
    assert waiting.json()["status"] == "shipped_back"
    assert waiting.json()["parcel"]["status"] == "delivered"
    assert await balance(client, seller=seller) == NET

    clock.advance(settings.return_inspection_time)
    done = await sweep(database, settings)

    assert done["receive_delivered_returns"] == 1
    buyer = await relogin(client, who=m.buyer)
    received = await client.get(f"/v1/returns/{return_id}", headers=buyer.headers)
    assert received.json()["status"] == "received"
    assert received.json()["refund"] == {"amount": 1500, "currency": "USD"}  # damaged: +shipping
    seller = await relogin(client, who=m.seller)
    assert await balance(client, seller=seller) == amounts()  # all 1350 went back
    steps = [
        (e["subject"], e["action"], e["actor_role"], e["to_status"])
        for e in await order_events(client, who=buyer, order_id=order["id"])
    ]
    assert ("shipment", "ship_back", "buyer", "label_created") in steps
    assert ("shipment", "track", "carrier", "delivered") in steps
    assert ("return", "receive", "system", "received") in steps
    m = await relogin_market(client, market=m)
    await reconcile_ok(client, admin=m.admin)


async def test_the_seller_may_confirm_before_the_inspection_time_ends(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await new_market(client, session)
    order = await completed_order(client, market=m, price=1000, shipping=500)
    return_id = (await post_return(client, who=m.buyer, order=order)).json()["id"]
    await step_ok(client, who=m.seller, return_id=return_id, step="approve")
    await step_ok(
        client,
        who=m.buyer,
        return_id=return_id,
        step="ship-back",
        body={"carrier": "sandbox", "tracking_number": "SBX00000003-DELIVERED-0"},
    )

    received = await step_ok(client, who=m.seller, return_id=return_id, step="receive")

    assert received["status"] == "received"
    assert received["parcel"]["status"] == "delivered"
    clock.advance(settings.return_inspection_time + timedelta(minutes=1))
    done = await sweep(database, settings)
    assert done["receive_delivered_returns"] == 0  # received once, never twice
    m = await relogin_market(client, market=m)
    await reconcile_ok(client, admin=m.admin)


async def test_a_return_parcel_is_checked_like_the_sellers(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await new_market(client, session)
    order = await completed_order(client, market=m)
    return_id = (await post_return(client, who=m.buyer, order=order)).json()["id"]
    await step_ok(client, who=m.seller, return_id=return_id, step="approve")

    bad_digit = await return_step(
        client,
        who=m.buyer,
        return_id=return_id,
        step="ship-back",
        body={"carrier": "ups", "tracking_number": "1Z999AA10123456785"},
    )
    unknown = await return_step(
        client,
        who=m.buyer,
        return_id=return_id,
        step="ship-back",
        body={"carrier": "pigeon", "tracking_number": "1234"},
    )

    assert_problem(bad_digit, 422, "invalid_tracking_number")
    assert_problem(unknown, 422, "unknown_carrier")
    still = await client.get(f"/v1/returns/{return_id}", headers=m.buyer.headers)
    assert (still.json()["status"], still.json()["parcel"]) == ("approved", None)
    parcels = await client.get(f"/v1/orders/{order['id']}/shipments", headers=m.buyer.headers)
    assert len(parcels.json()) == 1  # the order's own parcel only
