"""Carrier scans under real concurrency (PostgreSQL): a provider retrying one event at once,
two scans of one parcel crossing, the worker's undelivered refund racing the buyer's
`not_received` dispute, and a returned parcel's scan racing the buyer's confirmation."""

import asyncio
import secrets
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.core.clock import clock, now
from app.core.db import Database
from app.logistics.models import Shipment, TrackingEvent
from app.payments.models import LedgerTransaction, ProviderOperation, ProviderOperationKind
from app.payments.provider import SandboxProvider
from app.worker.runner import JOBS, WorkerContext, run_once
from tests.factories.accounts import LoggedIn, login, register_and_login
from tests.factories.api import Json, parse_time
from tests.factories.orders import get_order, order_events, post_confirm, post_pay
from tests.factories.payments import reconcile_ok
from tests.factories.races import RaceMarket, count, race_checkout, race_listing, race_market
from tests.logistics.parcels import parcels, post_ship, post_tracking_event, tracking_event

pytestmark = pytest.mark.postgres_only

REFUND_JOB = "refund_undelivered_orders"


def _sandbox_number(script: str) -> str:
    """A sandbox number of its own (the same script under a fresh SBX serial), so no other
    parcel answers to the events a test posts."""
    return f"SBX{secrets.randbelow(10**8):08d}-{script}"


async def _shipped_order(
    client: httpx.AsyncClient, *, market: RaceMarket, buyer: LoggedIn, tracking_number: str
) -> str:
    """A one-unit order, paid and shipped under `tracking_number`: its id."""
    listing_id = await race_listing(client, market=market, quantity=1)
    checkout = await race_checkout(client, buyer=buyer, listing_id=listing_id)
    paid = await post_pay(client, who=buyer, checkout_id=checkout["id"])
    assert paid.status_code == 200, paid.text
    order_id: str = paid.json()["orders"][0]["id"]
    shipped = await post_ship(
        client, who=market.seller, order_id=order_id, tracking_number=tracking_number
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    return order_id


async def _scans(database: Database, order_id: str) -> list[TrackingEvent]:
    """The tracking_events rows of the order's parcels, as committed."""
    async with database.session_scope() as session:
        found = await session.scalars(
            select(TrackingEvent)
            .join(Shipment, Shipment.id == TrackingEvent.shipment_id)
            .where(Shipment.order_id == uuid.UUID(order_id))
            .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
        )
        return list(found.all())


async def _ledger_count(database: Database, order_id: str, kind: str) -> int:
    return await count(
        database,
        select(func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == kind, LedgerTransaction.order_id == uuid.UUID(order_id)),
    )


async def _provider_refunds(database: Database, order_id: str) -> int:
    return await count(
        database,
        select(func.count())
        .select_from(ProviderOperation)
        .where(
            ProviderOperation.kind == ProviderOperationKind.refund,
            ProviderOperation.reference.startswith(f"refund:{order_id}:"),
        ),
    )


def _track_steps(timeline: list[Json]) -> list[Json]:
    return [e for e in timeline if e["subject"] == "shipment" and e["action"] == "track"]


async def test_one_delivery_event_posted_eight_times_at_once_is_applied_once(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    buyer = await register_and_login(client)
    number = _sandbox_number("SILENT")
    order_id = await _shipped_order(client, market=market, buyer=buyer, tracking_number=number)
    delivered = tracking_event(number, "delivered", (now() + timedelta(minutes=5)).isoformat())

    # A provider retrying: the same event (same `id`), each delivery under its own webhook-id.
    responses = await asyncio.gather(*(post_tracking_event(client, delivered) for _ in range(8)))

    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert sum(r.json()["applied"] for r in responses) == 1, [r.json() for r in responses]
    scans = await _scans(database, order_id)
    assert [(s.provider_event_id, s.status.value) for s in scans] == [
        (delivered["id"], "delivered")
    ]
    (shown,) = await parcels(client, who=buyer, order_id=order_id)
    assert shown["status"] == "delivered"
    assert len(shown["events"]) == 1
    steps = _track_steps(await order_events(client, who=buyer, order_id=order_id))
    assert [(s["from_status"], s["to_status"]) for s in steps] == [("label_created", "delivered")]
    order = await get_order(client, who=buyer, order_id=order_id)
    assert (order["status"], order["auto_refund_at"]) == ("shipped", None)
    delivered_at = parse_time(delivered["occurred_at"])
    assert parse_time(order["delivered_at"]) == delivered_at
    assert parse_time(order["auto_complete_at"]) == delivered_at + settings.auto_complete_after


async def test_two_scans_of_one_parcel_crossing_leave_it_delivered_with_both_stored(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    buyer = await register_and_login(client)
    number = _sandbox_number("SILENT")
    order_id = await _shipped_order(client, market=market, buyer=buyer, tracking_number=number)
    at = now().replace(microsecond=0) + timedelta(minutes=1)
    moving = tracking_event(number, "in_transit", at.isoformat())
    arrived = tracking_event(number, "delivered", (at + timedelta(minutes=1)).isoformat())

    first, second = await asyncio.gather(
        post_tracking_event(client, moving), post_tracking_event(client, arrived)
    )

    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    # Each is new, so each is recorded (the older one, if second, for the history only).
    assert (first.json()["applied"], second.json()["applied"]) == (1, 1)
    scans = await _scans(database, order_id)
    assert sorted((s.provider_event_id, s.status.value) for s in scans) == sorted(
        [(moving["id"], "in_transit"), (arrived["id"], "delivered")]
    )
    (shown,) = await parcels(client, who=buyer, order_id=order_id)
    assert shown["status"] == "delivered"
    assert [e["status"] for e in shown["events"]] == ["in_transit", "delivered"]
    steps = _track_steps(await order_events(client, who=buyer, order_id=order_id))
    # in_transit first: two steps; delivered first: one (the late in_transit moves nothing).
    assert [(s["from_status"], s["to_status"]) for s in steps] in (
        [("label_created", "in_transit"), ("in_transit", "delivered")],
        [("label_created", "delivered")],
    ), steps
    delivered_at = at + timedelta(minutes=1)
    assert parse_time(shown["delivered_at"]) == delivered_at
    order = await get_order(client, who=buyer, order_id=order_id)
    assert order["status"] == "shipped"
    assert parse_time(order["delivered_at"]) == delivered_at
    assert parse_time(order["auto_complete_at"]) == delivered_at + settings.auto_complete_after


async def test_a_not_received_dispute_racing_the_undelivered_refund_one_wins(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    buyer = await register_and_login(client)
    # Lost at once: the sandbox reports the exception while the order ships, which stops
    # its completion clock and starts the undelivered refund's.
    order_ids = [
        await _shipped_order(
            client, market=market, buyer=buyer, tracking_number=_sandbox_number("LOST-0")
        )
        for _ in range(3)
    ]
    for order_id in order_ids:
        lost = await get_order(client, who=buyer, order_id=order_id)
        assert (lost["status"], lost["auto_complete_at"]) == ("shipped", None), lost
        assert lost["auto_refund_at"] is not None, lost
    clock.advance(settings.undelivered_refund_after + timedelta(seconds=1))
    buyer = await login(client, email=buyer.email)
    admin = await login(client, email=market.admin.email)
    context = WorkerContext(database, settings, SandboxProvider())

    sweep, *opened = await asyncio.gather(
        run_once(context, {REFUND_JOB: JOBS[REFUND_JOB]}),
        *(
            client.post(
                f"/v1/orders/{order_id}/disputes",
                json={
                    "reason": "not_received",
                    "description": "The carrier lost it",
                    "requested_outcome": "refund_buyer",
                },
                headers=buyer.headers,
            )
            for order_id in order_ids
        ),
    )

    assert isinstance(sweep, dict)
    refunded_by_worker = 0
    for order_id, dispute in zip(order_ids, opened, strict=True):
        assert isinstance(dispute, httpx.Response)
        order = await get_order(client, who=buyer, order_id=order_id)
        refunds = (
            await _provider_refunds(database, order_id),
            await _ledger_count(database, order_id, "refund"),
        )
        if dispute.status_code == 201:  # the dispute first: the worker leaves the order be
            assert order["status"] == "disputed", order
            assert order["auto_refund_at"] is None, order  # the dispute decides now
            assert order["refunded"]["amount"] == 0, order
            assert refunds == (0, 0), (order_id, refunds)
        else:  # the refund first: the order is no longer disputable
            assert dispute.status_code == 409, dispute.text
            assert dispute.json()["code"] == "order_not_disputable", dispute.text
            assert order["status"] == "refunded", order
            assert order["refunded"] == order["total"], order
            assert refunds == (1, 1), (order_id, refunds)
            refunded_by_worker += 1
    assert sweep[REFUND_JOB] == refunded_by_worker, sweep
    await reconcile_ok(client, admin=admin)


async def test_a_confirmation_racing_a_returned_to_sender_scan_moves_the_money_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    buyer = await register_and_login(client)
    number = _sandbox_number("SILENT")
    order_id = await _shipped_order(client, market=market, buyer=buyer, tracking_number=number)
    returned = tracking_event(
        number, "returned_to_sender", (now() + timedelta(minutes=1)).isoformat()
    )

    confirmed, scanned = await asyncio.gather(
        post_confirm(client, who=buyer, order_id=order_id),
        post_tracking_event(client, returned),
    )

    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["applied"] == 1  # a new scan is recorded whatever the order's state
    assert confirmed.status_code in (200, 409), confirmed.text
    (shown,) = await parcels(client, who=buyer, order_id=order_id)
    assert shown["status"] == "returned_to_sender"
    order = await get_order(client, who=buyer, order_id=order_id)
    completions = await _ledger_count(database, order_id, "completion")
    refunds = await _ledger_count(database, order_id, "refund")
    # The app accepts a confirmation even after the scan froze the order, so today this is
    # always 200; a 409 is what a rule refusing confirmation on a frozen order would give.
    if confirmed.status_code == 200:  # the confirmation counted
        assert order["status"] == "completed", order
        assert order["auto_refund_at"] is None, order
        assert completions == 1
    else:  # the scan froze the order first and the confirmation was refused
        assert confirmed.json()["code"] == "invalid_transition", confirmed.text
        assert order["status"] == "shipped", order
        assert order["auto_complete_at"] is None, order
        assert order["auto_refund_at"] is not None, order
        assert completions == 0
    assert refunds == 0
    assert await _provider_refunds(database, order_id) == 0
    await reconcile_ok(client, admin=market.admin)
