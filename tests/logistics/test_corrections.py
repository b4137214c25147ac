"""A seller corrects a parcel's carrier or number: only while the carrier has reported
nothing about it and within the correction window; the order's timeline keeps both."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from tests.factories.api import assert_problem, parse_time
from tests.factories.orders import get_order, market, order_events, paid_order, relogin_market
from tests.factories.payments import reconcile_ok
from tests.logistics.parcels import UPS_EXAMPLE, parcel, parcels, patch_parcel, post_ship


async def test_a_wrong_number_is_corrected_once_and_the_timeline_keeps_the_old_one(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    shipped = await post_ship(
        client, who=m.seller, order_id=order["id"], carrier="UPS", tracking_number=UPS_EXAMPLE
    )
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["carrier"], shipped.json()["tracking_number"]) == ("ups", UPS_EXAMPLE)
    assert shipped.json()["tracking_url"] == f"https://www.ups.com/track?tracknum={UPS_EXAMPLE}"
    (ups,) = await parcels(client, who=m.seller, order_id=order["id"])
    assert (ups["status"], ups["events"]) == ("label_created", [])
    # Correctable for the window from when the number was given (at shipping).
    given = parse_time(ups["correctable_until"]) - settings.shipment_correction_window
    assert parse_time(shipped.json()["shipped_at"]) <= given <= parse_time(ups["created_at"])

    corrected = await patch_parcel(
        client, who=m.seller, shipment_id=ups["id"], tracking_number="SBX00000002-DELIVERED-0"
    )

    assert corrected.status_code == 200, corrected.text
    fixed = corrected.json()
    assert (fixed["carrier"], fixed["tracking_number"]) == ("sandbox", "SBX00000002-DELIVERED-0")
    assert fixed["status"] == "delivered"
    assert fixed["delivered_at"] is not None
    assert fixed["correctable_until"] is None  # a scan has arrived
    assert await parcel(client, who=m.buyer, shipment_id=ups["id"]) == fixed
    now_order = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (now_order["carrier"], now_order["tracking_number"]) == (
        "sandbox",
        "SBX00000002-DELIVERED-0",
    )
    assert now_order["tracking_url"] is None
    assert parse_time(now_order["delivered_at"]) == parse_time(fixed["delivered_at"])
    timeline = await order_events(client, who=m.buyer, order_id=order["id"])
    (correction,) = [e for e in timeline if e["action"] == "correct"]
    assert (correction["subject"], correction["subject_id"]) == ("shipment", ups["id"])
    assert (correction["actor_role"], correction["actor_id"]) == ("seller", m.seller.user_id)
    assert correction["details"]["previous"] == {"carrier": "ups", "tracking_number": UPS_EXAMPLE}
    assert (correction["details"]["carrier"], correction["details"]["tracking_number"]) == (
        "sandbox",
        "SBX00000002-DELIVERED-0",
    )

    again = await patch_parcel(
        client, who=m.seller, shipment_id=ups["id"], tracking_number="SBX00000003-DELIVERED-0"
    )

    assert_problem(again, 409, "shipment_not_correctable")
    unchanged = await parcel(client, who=m.seller, shipment_id=ups["id"])
    assert unchanged["tracking_number"] == "SBX00000002-DELIVERED-0"
    await reconcile_ok(client, admin=m.admin)


async def test_only_the_seller_corrects_and_only_within_the_window(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    shipped = await post_ship(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000001-SILENT"
    )
    assert shipped.status_code == 200, shipped.text
    (silent,) = await parcels(client, who=m.seller, order_id=order["id"])
    assert (silent["status"], silent["events"]) == ("label_created", [])
    given = parse_time(silent["correctable_until"]) - settings.shipment_correction_window
    assert parse_time(shipped.json()["shipped_at"]) <= given <= parse_time(silent["created_at"])

    by_buyer = await patch_parcel(
        client, who=m.buyer, shipment_id=silent["id"], tracking_number="SBX00000002-SILENT"
    )

    assert_problem(by_buyer, 403, "forbidden")
    assert (await parcel(client, who=m.seller, shipment_id=silent["id"]))[
        "tracking_number"
    ] == "SBX00000001-SILENT"

    clock.advance(settings.shipment_correction_window + timedelta(minutes=1))
    m = await relogin_market(client, market=m)
    late = await patch_parcel(
        client, who=m.seller, shipment_id=silent["id"], tracking_number="SBX00000002-SILENT"
    )

    assert_problem(late, 409, "shipment_not_correctable")
    found = await parcel(client, who=m.seller, shipment_id=silent["id"])
    assert (found["tracking_number"], found["correctable_until"]) == ("SBX00000001-SILENT", None)
    timeline = await order_events(client, who=m.seller, order_id=order["id"])
    assert [e for e in timeline if e["action"] == "correct"] == []
    await reconcile_ok(client, admin=m.admin)
