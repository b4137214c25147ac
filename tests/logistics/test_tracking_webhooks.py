"""Carrier events pushed to `POST /v1/logistics/webhooks/{provider}`: signed (Standard
Webhooks) under the provider's secret within the tolerance, applied once by their id, and
kept but ignored for the status when older than what the parcel already shows."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from tests.factories.api import assert_problem, json_ok, parse_time
from tests.factories.orders import get_order, market, order_events, paid_order
from tests.factories.payments import reconcile_ok
from tests.logistics.parcels import (
    parcels,
    post_ship,
    post_tracking_event,
    tracking_event,
)

SILENT = "SBX00000007-SILENT"


async def test_a_signed_delivery_event_delivers_the_order_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    shipped = await post_ship(client, who=m.seller, order_id=order["id"], tracking_number=SILENT)
    assert shipped.status_code == 200, shipped.text
    shipped_at = parse_time(shipped.json()["shipped_at"])
    delivered_at = shipped_at + timedelta(minutes=5)
    delivered = tracking_event(
        SILENT,
        "delivered",
        delivered_at.isoformat(),
        description="Left at the front door",
        location="Hamburg",
    )

    first = await post_tracking_event(client, delivered)

    assert json_ok(first) == {"applied": 1}
    (arrived,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert arrived["status"] == "delivered"
    assert parse_time(arrived["delivered_at"]) == delivered_at
    (scan,) = arrived["events"]
    assert (scan["status"], scan["description"], scan["location"]) == (
        "delivered",
        "Left at the front door",
        "Hamburg",
    )
    after_first = await get_order(client, who=m.buyer, order_id=order["id"])
    assert after_first["status"] == "shipped"
    assert parse_time(after_first["delivered_at"]) == delivered_at
    due = parse_time(after_first["auto_complete_at"])
    assert due == delivered_at + settings.auto_complete_after
    timeline = await order_events(client, who=m.buyer, order_id=order["id"])
    assert (timeline[-1]["action"], timeline[-1]["actor_role"], timeline[-1]["to_status"]) == (
        "track",
        "carrier",
        "delivered",
    )

    # The same event again (a provider's retry, under a new message id): nothing changes.
    replayed = await post_tracking_event(client, delivered)

    assert json_ok(replayed) == {"applied": 0}
    assert await order_events(client, who=m.buyer, order_id=order["id"]) == timeline
    assert await get_order(client, who=m.buyer, order_id=order["id"]) == after_first
    assert (await parcels(client, who=m.buyer, order_id=order["id"]))[0]["events"] == [scan]

    # An older scan arriving late is kept for the history, and moves nothing.
    late = tracking_event(SILENT, "in_transit", (shipped_at + timedelta(minutes=1)).isoformat())

    out_of_order = await post_tracking_event(client, late)

    assert json_ok(out_of_order) == {"applied": 1}
    (kept,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert kept["status"] == "delivered"
    assert parse_time(kept["delivered_at"]) == delivered_at
    assert [e["status"] for e in kept["events"]] == ["in_transit", "delivered"]
    assert await order_events(client, who=m.buyer, order_id=order["id"]) == timeline
    assert await get_order(client, who=m.buyer, order_id=order["id"]) == after_first
    await reconcile_ok(client, admin=m.admin)


async def test_an_event_is_refused_unless_signed_recently_by_a_known_provider(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    shipped = await post_ship(client, who=m.seller, order_id=order["id"], tracking_number=SILENT)
    assert shipped.status_code == 200, shipped.text
    timeline = await order_events(client, who=m.buyer, order_id=order["id"])
    delivered = tracking_event(SILENT, "delivered", now().isoformat())

    wrong_secret = await post_tracking_event(
        client, delivered, secret="whsec_" + "d3Jvbmctc2VjcmV0LW9mLXRoZS1zZW5kZXI="
    )
    assert_problem(wrong_secret, 401, "invalid_signature")

    stale = await post_tracking_event(
        client, delivered, timestamp=int((now() - timedelta(minutes=10)).timestamp())
    )
    assert_problem(stale, 401, "invalid_signature")

    unknown_provider = await post_tracking_event(client, delivered, provider="aftership")
    assert_problem(unknown_provider, 404, "not_found")

    (untouched,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert (untouched["status"], untouched["events"]) == ("label_created", [])
    assert await order_events(client, who=m.buyer, order_id=order["id"]) == timeline
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["delivered_at"] is None

    unknown_number = await post_tracking_event(
        client, tracking_event("SBX00000099-SILENT", "delivered", now().isoformat())
    )
    assert json_ok(unknown_number) == {"applied": 0}
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["delivered_at"] is None
    await reconcile_ok(client, admin=m.admin)


async def test_a_late_label_created_scan_is_accepted_not_a_server_error(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Carriers do send `label_created` (a relabel) after the parcel moved: the provider
    must get an answer it will not retry forever."""
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    stuck = "SBX00000031-STUCK"
    shipped = await post_ship(client, who=m.seller, order_id=order["id"], tracking_number=stuck)
    assert shipped.status_code == 200, shipped.text
    (moving,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert moving["status"] == "in_transit"
    relabelled_at = parse_time(moving["status_at"]) + timedelta(minutes=1)

    response = await post_tracking_event(
        client, tracking_event(stuck, "label_created", relabelled_at.isoformat())
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"applied": 1}
    (after,) = await parcels(client, who=m.buyer, order_id=order["id"])
    assert [e["status"] for e in after["events"]] == ["in_transit", "label_created"]
    await reconcile_ok(client, admin=m.admin)
