"""A parcel's journey moves its order's completion date: counted from the carrier's delivery,
from shipping with the longer fallback while nothing conclusive is known, and not at all
while the parcel is lost or going back. Sandbox numbers script the journey on the app's
clock; the worker's `poll_shipments` applies the due steps."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.api import parse_time
from tests.factories.disputes import post_dispute, post_resolve
from tests.factories.orders import (
    get_order,
    market,
    order_events,
    paid_order,
    relogin_market,
    ship,
)
from tests.factories.payments import amounts, balance, escrow_of, reconcile_ok
from tests.factories.worker import sweep
from tests.logistics.parcels import parcels, poll_shipments, post_ship


async def test_a_delivery_scan_starts_the_completion_clock_and_the_order_then_completes(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)

    shipped = await post_ship(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000001-DELIVERED-60"
    )

    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["status"] == "shipped"
    assert (body["carrier"], body["tracking_number"]) == ("sandbox", "SBX00000001-DELIVERED-60")
    assert body["tracking_url"] is None  # the sandbox carrier has no tracking page
    assert body["delivered_at"] is None
    shipped_at = parse_time(body["shipped_at"])
    assert parse_time(body["auto_complete_at"]) == shipped_at + settings.auto_complete_fallback
    (moving,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert (moving["status"], moving["delivered_at"]) == ("in_transit", None)
    assert [e["status"] for e in moving["events"]] == ["in_transit"]
    started = parse_time(moving["events"][0]["occurred_at"])

    clock.advance(timedelta(minutes=59))
    assert await poll_shipments(database, settings) == 0  # nothing due yet
    clock.advance(timedelta(minutes=2))
    assert await poll_shipments(database, settings) == 1

    m = await relogin_market(client, market=m)
    (arrived,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert arrived["status"] == "delivered"
    assert [e["status"] for e in arrived["events"]] == [
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    delivered_at = parse_time(arrived["delivered_at"])
    assert delivered_at == started + timedelta(minutes=60)
    now_order = await get_order(client, who=m.buyer, order_id=order["id"])
    assert now_order["status"] == "shipped"
    assert parse_time(now_order["delivered_at"]) == delivered_at
    due = parse_time(now_order["auto_complete_at"])
    assert due == delivered_at + settings.auto_complete_after
    timeline = await order_events(client, who=m.buyer, order_id=order["id"])
    assert [(e["action"], e["from_status"], e["to_status"]) for e in timeline[-2:]] == [
        ("track", "in_transit", "out_for_delivery"),
        ("track", "out_for_delivery", "delivered"),
    ]
    assert parse_time(timeline[-1]["details"]["auto_complete_at"]) == due
    assert await poll_shipments(database, settings) == 0  # the journey is over

    clock.advance(due - clock.now() - timedelta(minutes=1))
    assert (await sweep(database, settings))["auto_complete_orders"] == 0
    clock.advance(timedelta(minutes=2))
    done = await sweep(database, settings)

    assert done["auto_complete_orders"] == 1
    m = await relogin_market(client, market=m)
    completed = await get_order(client, who=m.seller, order_id=order["id"])
    assert completed["status"] == "completed"
    # 1500 paid, 10 % commission: the seller's 1350 is released.
    assert await balance(client, seller=m.seller) == amounts(available=1350)
    assert await escrow_of(session, order_id=order["id"]) == 0
    await reconcile_ok(client, admin=m.admin)


async def test_a_stuck_parcel_completes_only_after_the_fallback(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)
    shipped = await post_ship(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000001-STUCK"
    )
    assert shipped.status_code == 200, shipped.text
    shipped_at = parse_time(shipped.json()["shipped_at"])
    assert (
        parse_time(shipped.json()["auto_complete_at"])
        == shipped_at + settings.auto_complete_fallback
    )

    clock.advance(settings.auto_complete_after + timedelta(hours=1))
    done = await sweep(database, settings)

    assert done["auto_complete_orders"] == 0
    m = await relogin_market(client, market=m)
    waiting = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (waiting["status"], waiting["delivered_at"]) == ("shipped", None)
    assert parse_time(waiting["auto_complete_at"]) == shipped_at + settings.auto_complete_fallback
    (stuck,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert stuck["status"] == "in_transit"
    assert await balance(client, seller=m.seller) == amounts()

    clock.advance(shipped_at + settings.auto_complete_fallback - clock.now() + timedelta(hours=1))
    done = await sweep(database, settings)

    assert done["auto_complete_orders"] == 1
    m = await relogin_market(client, market=m)
    completed = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (completed["status"], completed["delivered_at"]) == ("completed", None)
    assert await balance(client, seller=m.seller) == amounts(available=1350)
    await reconcile_ok(client, admin=m.admin)


async def test_a_lost_parcel_freezes_completion_and_a_not_received_dispute_waits_for_the_seller(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)
    shipped = await post_ship(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000001-LOST-10"
    )
    assert shipped.status_code == 200, shipped.text

    clock.advance(timedelta(minutes=11))
    assert await poll_shipments(database, settings) == 1

    m = await relogin_market(client, market=m)
    (lost,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert lost["status"] == "exception"
    assert lost["events"][-1]["description"] == "Lost in transit"
    frozen = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (frozen["status"], frozen["auto_complete_at"], frozen["delivered_at"]) == (
        "shipped",
        None,
        None,
    )
    last = (await order_events(client, who=m.buyer, order_id=order["id"]))[-1]
    assert (last["action"], last["to_status"]) == ("track", "exception")
    assert last["details"]["auto_complete_at"] is None

    refund_at = parse_time(frozen["auto_refund_at"])
    reported = parse_time(last["created_at"])
    assert abs(refund_at - (reported + settings.undelivered_refund_after)) < timedelta(seconds=1)

    # Past every completion delay but short of the refund: nothing moves by itself.
    clock.advance(settings.undelivered_refund_after - timedelta(minutes=1))
    done = await sweep(database, settings)

    assert (done["auto_complete_orders"], done["refund_undelivered_orders"]) == (0, 0)
    m = await relogin_market(client, market=m)
    still = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (still["status"], still["auto_complete_at"]) == ("shipped", None)
    assert await balance(client, seller=m.seller) == amounts()

    opened = await post_dispute(client, who=m.buyer, order_id=order["id"], reason="not_received")
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (dispute["status"], dispute["reason"]) == ("open", "not_received")
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "disputed"

    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=dispute["id"], outcome="refund_buyer"
    )

    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["outcome"]) == ("resolved", "refund_buyer")
    refunded = await get_order(client, who=m.buyer, order_id=order["id"])
    assert refunded["status"] == "refunded"
    assert refunded["refunded"] == {"amount": 1500, "currency": "USD"}
    assert await escrow_of(session, order_id=order["id"]) == 0
    assert await balance(client, seller=m.seller) == amounts()
    await reconcile_ok(client, admin=m.admin)


async def test_a_returned_parcel_freezes_completion(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)
    shipped = await post_ship(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000001-RETURNED-30"
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["auto_complete_at"] is not None

    clock.advance(timedelta(minutes=31))
    assert await poll_shipments(database, settings) == 1

    m = await relogin_market(client, market=m)
    (returned,) = await parcels(client, who=m.seller, order_id=order["id"])
    assert returned["status"] == "returned_to_sender"
    frozen = await get_order(client, who=m.seller, order_id=order["id"])
    assert (frozen["status"], frozen["auto_complete_at"], frozen["delivered_at"]) == (
        "shipped",
        None,
        None,
    )

    clock.advance(settings.undelivered_refund_after - timedelta(minutes=1))
    done = await sweep(database, settings)

    assert (done["auto_complete_orders"], done["refund_undelivered_orders"]) == (0, 0)
    m = await relogin_market(client, market=m)
    still = await get_order(client, who=m.seller, order_id=order["id"])
    assert (still["status"], still["auto_complete_at"]) == ("shipped", None)
    assert await balance(client, seller=m.seller) == amounts()
    assert await escrow_of(session, order_id=order["id"]) == 1500

    # Nobody disputed and no scan came: the buyer gets everything back, the seller nothing.
    clock.advance(timedelta(minutes=2))
    done = await sweep(database, settings)

    assert done["refund_undelivered_orders"] == 1
    m = await relogin_market(client, market=m)
    refunded = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (refunded["status"], refunded["auto_refund_at"]) == ("refunded", None)
    assert refunded["refunded"] == {"amount": 1500, "currency": "USD"}
    assert await escrow_of(session, order_id=order["id"]) == 0
    assert await balance(client, seller=m.seller) == amounts()
    notices = await client.get("/v1/notifications", headers=m.buyer.headers)
    assert notices.status_code == 200, notices.text
    assert notices.json()["items"][0]["type"] == "order.undelivered_refunded"
    await reconcile_ok(client, admin=m.admin)


async def test_a_not_received_dispute_on_a_delivered_order_goes_straight_to_an_admin(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)
    shipped = await ship(client, who=m.seller, order_id=order["id"])  # SBX...-DELIVERED-0
    assert shipped["delivered_at"] is not None

    opened = await post_dispute(client, who=m.buyer, order_id=order["id"], reason="not_received")

    assert opened.status_code == 201, opened.text
    assert (opened.json()["status"], opened.json()["reason"]) == ("escalated", "not_received")
    timeline = await order_events(client, who=m.buyer, order_id=order["id"])
    dispute_steps = [(e["action"], e["to_status"]) for e in timeline if e["subject"] == "dispute"]
    assert dispute_steps[0] == ("open", "open")
    assert dispute_steps[-1][1] == "escalated"
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "disputed"
    await reconcile_ok(client, admin=m.admin)


async def test_a_delayed_parcel_freezes_completion_until_it_is_delivered(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)
    shipped = await post_ship(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000001-DELAYED-10-30"
    )
    assert shipped.status_code == 200, shipped.text

    clock.advance(timedelta(minutes=11))
    assert await poll_shipments(database, settings) == 1
    m = await relogin_market(client, market=m)
    (held,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert held["status"] == "exception"
    frozen = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (frozen["auto_complete_at"], frozen["delivered_at"]) == (None, None)

    clock.advance(timedelta(minutes=20))
    assert await poll_shipments(database, settings) == 1

    m = await relogin_market(client, market=m)
    (arrived,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert arrived["status"] == "delivered"
    assert [e["status"] for e in arrived["events"]] == ["in_transit", "exception", "delivered"]
    delivered_at = parse_time(arrived["delivered_at"])
    assert delivered_at == parse_time(arrived["events"][0]["occurred_at"]) + timedelta(minutes=30)
    thawed = await get_order(client, who=m.buyer, order_id=order["id"])
    assert parse_time(thawed["delivered_at"]) == delivered_at
    assert parse_time(thawed["auto_complete_at"]) == delivered_at + settings.auto_complete_after
    await reconcile_ok(client, admin=m.admin)
