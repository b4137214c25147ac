"""Parcels: shipping an order, its parcels and their scans, corrections, and the carriers'
events coming in."""

from enum import Enum

from fastapi import APIRouter, Request, status

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.catalog.dependencies import Storage
from app.core.db import DbSession
from app.core.errors import Forbidden, InvalidTransition, error_responses
from app.core.routing import API_PREFIX
from app.logistics import service, views
from app.logistics.dependencies import ShipmentGuard
from app.logistics.exceptions import (
    InvalidShipmentLines,
    InvalidTrackingEvent,
    InvalidTrackingSignature,
    ShipmentNotCorrectable,
    ShipmentNotFound,
    TrackingNumberInUse,
    TrackingProviderNotFound,
)
from app.logistics.schemas import (
    ShipmentCorrection,
    ShipmentRead,
    ShipRequest,
    TrackingWebhook,
    TrackingWebhookReceipt,
)
from app.orders import views as order_views
from app.orders.dependencies import OrderGuard
from app.orders.exceptions import OrderNotFound
from app.orders.schemas import OrderRead
from app.shipping.exceptions import CarrierNameRequired, InvalidTrackingNumber, UnknownCarrier

shipping_router = APIRouter(prefix=API_PREFIX)
_SHIPMENTS: list[str | Enum] = ["shipments"]

_TRACKING_ERRORS = (UnknownCarrier, CarrierNameRequired, InvalidTrackingNumber)
_PARCEL_ERRORS = (*_TRACKING_ERRORS, TrackingNumberInUse, InvalidShipmentLines, Forbidden)


@shipping_router.post(
    "/orders/{order_id}/ship",
    response_model=OrderRead,
    tags=["orders"],
    responses=error_responses(InvalidToken, OrderNotFound, InvalidTransition, *_PARCEL_ERRORS),
)
async def ship_order(
    order: OrderGuard,
    body: ShipRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> OrderRead:
    """Seller: ship a paid order, its first parcel holding everything (or the `lines`
    given). The number is checked against the carrier's formats (`GET /v1/carriers`; carrier
    `sandbox` scripts a journey, see the README). The order completes by itself
    `MARKETPLACE_AUTO_COMPLETE_AFTER` after the carrier reports delivery, or
    `MARKETPLACE_AUTO_COMPLETE_FALLBACK` after shipping if it never does; a lost or returned
    parcel stops that clock."""
    shipped = await service.ship(session, principal, order, settings=settings, data=body)
    return order_views.to_read(shipped, storage)


@shipping_router.post(
    "/orders/{order_id}/shipments",
    tags=_SHIPMENTS,
    response_model=ShipmentRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(InvalidToken, OrderNotFound, InvalidTransition, *_PARCEL_ERRORS),
)
async def add_parcel(
    order: OrderGuard,
    body: ShipRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> ShipmentRead:
    """Seller: another parcel of a shipped order (`lines`: what it holds; omitted: all
    not yet in a parcel). The order counts as delivered when every parcel is."""
    shown = await service.add_parcel(session, principal, order, settings=settings, data=body)
    return views.to_read(shown)


@shipping_router.get(
    "/orders/{order_id}/shipments",
    tags=_SHIPMENTS,
    response_model=list[ShipmentRead],
    responses=error_responses(InvalidToken, OrderNotFound),
)
async def list_parcels(order: OrderGuard, session: DbSession) -> list[ShipmentRead]:
    """The order's parcels, oldest first, each with the carrier's scans and tracking link."""
    return [views.to_read(shown) for shown in await service.of_order(session, order)]


@shipping_router.get(
    "/shipments/{shipment_id}",
    tags=_SHIPMENTS,
    response_model=ShipmentRead,
    responses=error_responses(InvalidToken, ShipmentNotFound),
)
async def get_parcel(shipment: ShipmentGuard, session: DbSession) -> ShipmentRead:
    """One parcel of an order you bought or sold, with its scans."""
    return views.to_read(await service.view(session, shipment.subject))


@shipping_router.patch(
    "/shipments/{shipment_id}",
    tags=_SHIPMENTS,
    response_model=ShipmentRead,
    responses=error_responses(
        InvalidToken, ShipmentNotFound, ShipmentNotCorrectable, *_PARCEL_ERRORS
    ),
)
async def correct_parcel(
    shipment: ShipmentGuard,
    body: ShipmentCorrection,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> ShipmentRead:
    """The sender (the seller; the buyer for a return's parcel): correct a parcel's carrier or
    tracking number, within `MARKETPLACE_SHIPMENT_CORRECTION_WINDOW` of shipping and only
    while the carrier has reported nothing about it (409 `shipment_not_correctable` after).
    The order's timeline keeps the old and the new values."""
    shown = await service.correct(session, principal, shipment, settings=settings, data=body)
    return views.to_read(shown)


@shipping_router.post(
    "/logistics/webhooks/{provider}",
    tags=["logistics"],
    response_model=TrackingWebhookReceipt,
    responses=error_responses(
        TrackingProviderNotFound, InvalidTrackingSignature, InvalidTrackingEvent
    ),
)
async def receive_tracking_event(
    provider: str,
    body: TrackingWebhook,
    request: Request,
    session: DbSession,
    settings: AppSettings,
) -> TrackingWebhookReceipt:
    """A tracking provider's scan, signed as Standard Webhooks do (`webhook-id`,
    `webhook-timestamp`, `webhook-signature` under the provider's secret,
    `MARKETPLACE_TRACKING_WEBHOOK_SECRETS`; outside production `sandbox` uses the README's
    development secret). Timestamps older or newer than 5 minutes are refused (401).
    Idempotent by the event's `id`; an event older than the parcel's newest is kept for the
    history and changes nothing. No login: the signature is the authentication."""
    applied = await service.receive(
        session,
        settings,
        provider,
        headers=request.headers,
        body=await request.body(),
        event=body,
    )
    return TrackingWebhookReceipt(applied=applied)
