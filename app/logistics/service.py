"""Parcels: shipping an order in one or more of them, correcting a wrong number, and the
carriers' scans, which move the order's completion date. Every caller holds the order's row
lock before touching its parcels (order, then parcel: the one lock order), so a scan, a
correction and the buyer's confirmation never interleave."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Environment, Settings
from app.core import signing
from app.core.clock import now
from app.core.errors import Forbidden, InvalidTransition
from app.core.guards import Guarded
from app.core.ids import uuid7
from app.core.repository import claim_one
from app.logistics import sandbox
from app.logistics.events import ANNOUNCED, ShipmentEventType
from app.logistics.exceptions import (
    InvalidShipmentLines,
    InvalidTrackingEvent,
    InvalidTrackingSignature,
    ShipmentNotCorrectable,
    ShipmentNotFound,
    TrackingNumberInUse,
    TrackingProviderNotFound,
)
from app.logistics.models import Shipment, ShipmentLine, ShipmentStatus, TrackingEvent
from app.logistics.providers import TrackingProvider, TrackingUpdate
from app.logistics.repository import ShipmentRepository, TrackingEventRepository
from app.logistics.schemas import ParcelLine, ShipmentCorrection, ShipRequest, TrackingWebhook
from app.orders import service as order_service
from app.orders.exceptions import OrderNotFound
from app.orders.models import EventSubject, Order, OrderStatus
from app.orders.state import ORDER_LIFECYCLE, OrderAction, OrderActor
from app.shipping import carriers
from app.shipping.exceptions import UnknownCarrier

PROVIDERS: Mapping[str, TrackingProvider] = {sandbox.NAME: sandbox.SandboxProvider()}
"""The providers the worker polls, by name. Providers that push need no entry here: a
secret for them (`MARKETPLACE_TRACKING_WEBHOOK_SECRETS`) opens their webhook."""

_RANK = {
    ShipmentStatus.label_created: 0,
    ShipmentStatus.in_transit: 1,
    ShipmentStatus.out_for_delivery: 2,
    ShipmentStatus.exception: 3,
    ShipmentStatus.delivered: 4,
    ShipmentStatus.returned_to_sender: 5,
}
"""Among scans stamped with the same instant, which one is the later step."""

PROBLEMS = frozenset({ShipmentStatus.exception, ShipmentStatus.returned_to_sender})
"""A parcel in one of these stops its order completing by itself."""

CARRIER_ROLE = "carrier"
"""The timeline's actor for a carrier's scan."""


@dataclass(frozen=True, slots=True)
class ShipmentView:
    shipment: Shipment
    events: Sequence[TrackingEvent]
    correctable: bool


# --- shipping ---------------------------------------------------------------------------------


async def ship(
    session: AsyncSession,
    principal: Principal,
    order: Guarded[Order, OrderActor],
    *,
    settings: Settings,
    data: ShipRequest,
) -> order_service.OrderView:
    """The seller ships a paid order: its first parcel (everything, unless `lines` say
    otherwise). The order's guard holds its row lock."""
    # The order's own rules first (409 for an order not paid or a caller who may not ship
    # it), then the parcel's (422); a refusal rolls the whole request back.
    ORDER_LIFECYCLE.target(order.subject.status, OrderAction.ship, order.roles, order.subject)
    tracking, provider = _tracking(settings, data.carrier, data.tracking_number, data.carrier_name)
    await order_service.ship(
        session,
        principal,
        order,
        settings=settings,
        carrier=tracking.carrier,
        carrier_name=tracking.carrier_name,
        tracking_number=tracking.tracking_number,
    )
    await _check_number_free(session, order.subject, tracking)
    lines = await _parcel_lines(session, order.subject, data.lines)
    shipped_at = order.subject.shipped_at
    assert shipped_at is not None  # just shipped
    await _add(
        session, order.subject, tracking, provider, lines, settings, principal.user_id, shipped_at
    )
    return await order_service.view(session, principal, order, settings=settings)


async def add_parcel(
    session: AsyncSession,
    principal: Principal,
    order: Guarded[Order, OrderActor],
    *,
    settings: Settings,
    data: ShipRequest,
) -> ShipmentView:
    """Another parcel of an order already shipped (the rest of it, sent later or apart)."""
    if OrderActor.seller not in order.roles:
        raise Forbidden("only the seller ships the order's parcels")
    if order.subject.status is not OrderStatus.shipped:
        raise InvalidTransition(
            f"the order is {order.subject.status.value}: ship it first (POST .../ship)"
        )
    tracking, provider = _tracking(settings, data.carrier, data.tracking_number, data.carrier_name)
    await _check_number_free(session, order.subject, tracking)
    lines = await _parcel_lines(session, order.subject, data.lines)
    shipment = await _add(
        session, order.subject, tracking, provider, lines, settings, principal.user_id, now()
    )
    return await view(session, shipment)


async def ship_return(
    session: AsyncSession,
    order: Order,
    *,
    settings: Settings,
    return_id: uuid.UUID,
    items: Sequence[tuple[uuid.UUID, int]],
    carrier: str,
    carrier_name: str | None,
    tracking_number: str,
    actor_id: uuid.UUID | None,
) -> Shipment:
    """The parcel a buyer sends back for a return (`items`: order line id and units), checked
    like the seller's; the caller holds the order's row lock. Its scans go into the order's
    timeline like any parcel's, and do not touch the (completed) order's dates."""
    tracking, provider = _tracking(settings, carrier, tracking_number, carrier_name)
    await _check_number_free(session, order, tracking)
    if await ShipmentRepository(session).ships_order_under(order.id, tracking):
        # Its scans are the outbound parcel's: a delivery long past would "receive" it.
        raise TrackingNumberInUse("that number carried the order to the buyer; use the return's")
    lines = [ShipmentLine(id=uuid7(), order_line_id=line, quantity=units) for line, units in items]
    at = now()
    shipment = await _add(
        session, order, tracking, provider, lines, settings, actor_id, at, return_id=return_id
    )
    return shipment


async def return_parcel(session: AsyncSession, return_id: uuid.UUID) -> ShipmentView | None:
    """The parcel going back for a return, with its scans (None: not sent yet)."""
    found = await ShipmentRepository(session).of_return(return_id)
    return await view(session, found) if found is not None else None


async def correct(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[Shipment, OrderActor],
    *,
    settings: Settings,
    data: ShipmentCorrection,
) -> ShipmentView:
    """The seller fixes a wrong carrier or number: only within the correction window and
    before the carrier has reported anything (a scan proves the number was right). The old
    and new values go into the order's timeline."""
    shipment = guarded.subject
    # Whoever sent the parcel corrects it: the seller, or the buyer for a return's.
    sender = OrderActor.seller if shipment.return_id is None else OrderActor.buyer
    if sender not in guarded.roles:
        raise Forbidden(f"only the {sender.value} who sent the parcel corrects it")
    if not await _correctable(session, shipment):
        raise ShipmentNotCorrectable(
            "the carrier has reported on this parcel, or the correction window "
            f"({settings.shipment_correction_window}) has passed"
        )
    order = await order_service.lock(session, shipment.order_id)
    tracking, provider = _tracking(settings, data.carrier, data.tracking_number, data.carrier_name)
    await _check_number_free(session, order, tracking)
    was = {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number}
    if (order.carrier, order.tracking_number) == (shipment.carrier, shipment.tracking_number):
        order_service.record_tracking(
            order, carrier=tracking.carrier, tracking_number=tracking.tracking_number
        )
    _set_tracking(shipment, tracking, provider, now())
    await order_service.record_event(
        session,
        order.id,
        EventSubject.shipment,
        shipment.id,
        ShipmentEventType.corrected,
        action="correct",
        actor_role=sender.value,
        actor_id=principal.user_id,
        change=(shipment.status.value, shipment.status.value),
        details={**_tracking_facts(shipment), "previous": was},
    )
    if provider is not None:
        await _poll(session, order, shipment, provider, settings, now())
    return await view(session, shipment)


async def _add(
    session: AsyncSession,
    order: Order,
    tracking: carriers.Tracking,
    provider: TrackingProvider | None,
    lines: list[ShipmentLine],
    settings: Settings,
    actor_id: uuid.UUID | None,
    at: datetime,
    *,
    return_id: uuid.UUID | None = None,
) -> Shipment:
    shipment = Shipment(
        id=uuid7(),
        order_id=order.id,
        return_id=return_id,
        status=ShipmentStatus.label_created,
        status_at=at,
        correctable_until=at + settings.shipment_correction_window,
        lines=lines,
    )
    _set_tracking(shipment, tracking, provider, at)
    session.add(shipment)
    await order_service.record_event(
        session,
        order.id,
        EventSubject.shipment,
        shipment.id,
        ShipmentEventType.created,
        action="ship_back" if return_id is not None else "ship",
        actor_role=(OrderActor.buyer if return_id is not None else OrderActor.seller).value,
        actor_id=actor_id,
        change=(None, ShipmentStatus.label_created.value),
        details=_tracking_facts(shipment),
    )
    if provider is not None:
        await _poll(session, order, shipment, provider, settings, at)
    if return_id is None:
        # A new parcel not yet delivered makes the order undelivered again.
        await _track_order(session, order, settings)
    return shipment


def _set_tracking(
    shipment: Shipment,
    tracking: carriers.Tracking,
    provider: TrackingProvider | None,
    at: datetime,
) -> None:
    shipment.carrier = tracking.carrier
    shipment.carrier_name = tracking.carrier_name
    shipment.tracking_number = tracking.tracking_number
    shipment.tracking_since = at
    shipment.provider = provider.name if provider is not None else None
    shipment.next_poll_at = at if provider is not None else None


def _tracking_facts(shipment: Shipment) -> dict[str, Any]:
    return {
        **({"return_id": str(shipment.return_id)} if shipment.return_id is not None else {}),
        "carrier": shipment.carrier,
        "carrier_name": shipment.carrier_name,
        "tracking_number": shipment.tracking_number,
        "tracking_url": carriers.tracking_url(shipment.carrier, shipment.tracking_number),
    }


def _tracking(
    settings: Settings, carrier: str, tracking_number: str, carrier_name: str | None
) -> tuple[carriers.Tracking, TrackingProvider | None]:
    """The carrier and number, checked against the registry's formats (422 with the reason)
    and, where a provider reports on that carrier, against what it can track. In production
    the sandbox carrier does not exist: its scripted deliveries would complete orders and
    refund returns nobody sent."""
    tracking = carriers.resolve(carrier, tracking_number, carrier_name=carrier_name)
    if tracking.carrier == sandbox.NAME and settings.environment is Environment.production:
        raise UnknownCarrier(carrier)
    provider = next((p for p in PROVIDERS.values() if p.carries(tracking.carrier)), None)
    if provider is not None:
        provider.check(tracking.tracking_number)
    return tracking, provider


async def _check_number_free(
    session: AsyncSession, order: Order, tracking: carriers.Tracking
) -> None:
    """One parcel number belongs to one shop and one buyer: a shop may reuse it for several
    orders of the same buyer (one box), never for another buyer's order. Sandbox numbers are
    scripts every test shares, so they are exempt."""
    if tracking.carrier == sandbox.NAME:
        return
    if await ShipmentRepository(session).number_used_elsewhere(
        tracking.carrier,
        tracking.tracking_number,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
    ):
        raise TrackingNumberInUse(
            f"{tracking.carrier_name} {tracking.tracking_number} already ships another order"
        )


async def _parcel_lines(
    session: AsyncSession, order: Order, requested: list[ParcelLine] | None
) -> list[ShipmentLine]:
    """The parcel's contents: what was asked for, at most what is not yet in a parcel, or
    (nothing asked) all of that."""
    packed = await ShipmentRepository(session).packed_quantities(order.id)
    left = {line.id: line.quantity - packed.get(line.id, 0) for line in order.lines}
    wanted: dict[uuid.UUID, int] = {}
    if requested is None:
        wanted = {line_id: units for line_id, units in left.items() if units > 0}
        if not wanted:
            raise InvalidShipmentLines("every unit of the order is in a parcel already")
    for line in requested or ():
        if line.order_line_id not in left:
            raise InvalidShipmentLines(f"order line {line.order_line_id} is not in this order")
        wanted[line.order_line_id] = wanted.get(line.order_line_id, 0) + line.quantity
    for line_id, units in wanted.items():
        if units > left[line_id]:
            raise InvalidShipmentLines(
                f"order line {line_id} has {left[line_id]} unit(s) not yet in a parcel"
            )
    return [ShipmentLine(id=uuid7(), order_line_id=k, quantity=v) for k, v in wanted.items()]


async def _correctable(session: AsyncSession, shipment: Shipment) -> bool:
    if shipment.correctable_until <= now():
        return False
    return not await TrackingEventRepository(session).has_any(shipment.id)


# --- scans ------------------------------------------------------------------------------------


def _order_key(status: ShipmentStatus, occurred_at: datetime) -> tuple[datetime, int]:
    return occurred_at, _RANK[status]


async def _poll(
    session: AsyncSession,
    order: Order,
    shipment: Shipment,
    provider: TrackingProvider,
    settings: Settings,
    at: datetime,
) -> None:
    polled = provider.poll(shipment, at)
    shipment.next_poll_at = polled.next_poll_at
    await _apply(session, order, shipment, provider.name, polled.updates, settings)


async def _apply(
    session: AsyncSession,
    order: Order,
    shipment: Shipment,
    provider: str,
    updates: Iterable[TrackingUpdate],
    settings: Settings,
) -> bool:
    """Record the scans not seen before and move the parcel to the newest one's status.
    A scan seen before (a replay) changes nothing; one older than the parcel's newest is
    kept for the history but moves nothing. Each status change is a step of the order's
    timeline; the last of a batch is announced (notification, webhook), with the order's
    completion date as it now stands. True if anything was new."""
    known = await TrackingEventRepository(session).of_shipments([shipment.id])
    seen = {event.provider_event_id for event in known if event.provider == provider}
    fresh: list[TrackingUpdate] = []
    for update in sorted(updates, key=lambda u: _order_key(u.status, u.occurred_at)):
        if update.event_id not in seen:
            seen.add(update.event_id)
            fresh.append(update)
    if not fresh:
        return False
    received = now()
    session.add_all(
        TrackingEvent(
            id=uuid7(),
            shipment_id=shipment.id,
            provider=provider,
            provider_event_id=update.event_id,
            status=update.status,
            occurred_at=update.occurred_at,
            received_at=received,
            description=update.description,
            location=update.location,
        )
        for update in fresh
    )
    newest = max((_order_key(e.status, e.occurred_at) for e in known), default=None)
    steps: list[tuple[ShipmentStatus, TrackingUpdate]] = []
    for update in fresh:
        key = _order_key(update.status, update.occurred_at)
        if newest is not None and key <= newest:
            continue  # out of order: older than what the parcel already shows
        if update.status is ShipmentStatus.label_created:
            continue  # a label printed says nothing of where the parcel is: history only
        newest = key
        if update.status is not shipment.status:
            steps.append((shipment.status, update))
        shipment.status, shipment.status_at = update.status, update.occurred_at
        delivered = update.status is ShipmentStatus.delivered
        shipment.delivered_at = update.occurred_at if delivered else None
    if steps and shipment.return_id is None:
        await _track_order(session, order, settings)
    for index, (before, update) in enumerate(steps):
        last = index == len(steps) - 1
        await order_service.record_event(
            session,
            order.id,
            EventSubject.shipment,
            shipment.id,
            _announcement(shipment, update.status) if last else None,
            action="track",
            actor_role=CARRIER_ROLE,
            actor_id=None,
            change=(before.value, update.status.value),
            details={
                **_tracking_facts(shipment),
                "occurred_at": update.occurred_at.isoformat(),
                "description": update.description,
                "location": update.location,
                "auto_complete_at": _iso(order.auto_complete_at),
            },
        )
    await session.flush()
    return True


def _announcement(shipment: Shipment, status: ShipmentStatus) -> ShipmentEventType:
    if shipment.return_id is not None and status is ShipmentStatus.delivered:
        return ShipmentEventType.return_delivered
    return ANNOUNCED[status]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


async def _track_order(session: AsyncSession, order: Order, settings: Settings) -> None:
    """The order's completion date from all its parcels: delivered when every one is."""
    parcels = await ShipmentRepository(session).outbound_of(order.id)
    packed = await ShipmentRepository(session).packed_quantities(order.id)
    # Delivered: every parcel, and every unit of the order in one (a part never sent was
    # not delivered, whatever the parcels that were say).
    delivered = all(p.status is ShipmentStatus.delivered for p in parcels) and all(
        packed.get(line.id, 0) >= line.quantity for line in order.lines
    )
    order_service.track_delivery(
        order,
        settings=settings,
        delivered_at=max((p.delivered_at for p in parcels if p.delivered_at), default=None)
        if delivered
        else None,
        frozen=any(p.status in PROBLEMS for p in parcels),
    )


async def receive(
    session: AsyncSession,
    settings: Settings,
    provider: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    event: TrackingWebhook,
) -> int:
    """A provider's pushed scan, signed (Standard Webhooks) with its secret within the
    tolerance. It applies to every parcel under that carrier's number; the number of
    parcels it changed is returned (0: an unknown number, or a replay)."""
    secret = settings.tracking_webhook_secret(provider)
    if secret is None:
        raise TrackingProviderNotFound()
    if not signing.verify(
        secret,
        message_id=headers.get("webhook-id", ""),
        timestamp=headers.get("webhook-timestamp", ""),
        signatures=headers.get("webhook-signature", ""),
        body=body,
        now=int(now().timestamp()),
        tolerance=int(settings.tracking_webhook_tolerance.total_seconds()),
    ):
        raise InvalidTrackingSignature(
            "sign the body with the provider's secret (Standard Webhooks: webhook-id, "
            "webhook-timestamp within the tolerance, webhook-signature)"
        )
    if event.occurred_at > now() + settings.tracking_webhook_tolerance:
        raise InvalidTrackingEvent("`occurred_at` is in the future: a scan reports the past")
    carrier = carriers.code_of(event.carrier)
    number = carriers.normalize(event.tracking_number)
    update = TrackingUpdate(
        event_id=event.id,
        status=event.status,
        occurred_at=event.occurred_at,
        description=event.description,
        location=event.location,
    )
    if provider == sandbox.NAME and carrier != sandbox.NAME:
        return 0  # the sandbox's secret is public: it may only move sandbox parcels
    found = await ShipmentRepository(session).tracked_as(carrier, number)
    # Every order first, in id order, then the parcels: two events naming parcels of the
    # same orders in another order cannot deadlock.
    orders = {
        order_id: await order_service.lock(session, order_id)
        for order_id in sorted({parcel.order_id for parcel in found})
    }
    applied = 0
    for parcel in found:
        shipment = await ShipmentRepository(session).get_with_lines(parcel.id, lock=True)
        assert shipment is not None  # parcels are never deleted while their order exists
        if await _apply(session, orders[parcel.order_id], shipment, provider, [update], settings):
            applied += 1
    return applied


async def poll_one_order(session: AsyncSession, settings: Settings) -> bool:
    """Worker: ask the providers about the due parcels of one order (claimed by its row,
    the lock every other path takes first)."""
    repository = ShipmentRepository(session)
    claimed = await claim_one(session, repository.order_due_for_poll(now()))
    if claimed is None:
        return False
    order = await order_service.lock(session, claimed.id)
    for shipment in await repository.of_order(order.id):
        provider = PROVIDERS.get(shipment.provider or "")
        due = shipment.next_poll_at is not None and shipment.next_poll_at <= now()
        if not due:
            continue
        if provider is None:  # a provider since removed: stop asking
            shipment.next_poll_at = None
            continue
        await _poll(session, order, shipment, provider, settings, now())
    await session.flush()
    return True


# --- reads ------------------------------------------------------------------------------------


async def get_visible(
    session: AsyncSession, principal: Principal, shipment_id: uuid.UUID, *, lock: bool = False
) -> Guarded[Shipment, OrderActor]:
    """A parcel of an order the caller may see, with their roles on the order; 404
    otherwise. `lock` locks the order, then the parcel."""
    found = await ShipmentRepository(session).get(shipment_id)
    if found is None:
        raise ShipmentNotFound()
    try:
        order = await order_service.get_visible(session, principal, found.order_id, lock=lock)
    except OrderNotFound:
        raise ShipmentNotFound() from None
    shipment = await ShipmentRepository(session).get_with_lines(shipment_id, lock=lock)
    if shipment is None:
        raise ShipmentNotFound()
    return Guarded(shipment, order.roles)


async def of_order(session: AsyncSession, order: Guarded[Order, OrderActor]) -> list[ShipmentView]:
    """An order's parcels, oldest first, each with its scans."""
    shipments = await ShipmentRepository(session).of_order(order.subject.id)
    return await _views_of(session, shipments)


async def view(session: AsyncSession, shipment: Shipment) -> ShipmentView:
    (shown,) = await _views_of(session, [shipment])
    return shown


async def _views_of(session: AsyncSession, shipments: Sequence[Shipment]) -> list[ShipmentView]:
    events = await TrackingEventRepository(session).of_shipments([s.id for s in shipments])
    at = now()
    return [
        ShipmentView(
            shipment,
            scans := [e for e in events if e.shipment_id == shipment.id],
            correctable=not scans and shipment.correctable_until > at,
        )
        for shipment in shipments
    ]
