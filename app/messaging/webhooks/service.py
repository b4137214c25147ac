"""A seller's webhook endpoints and delivery log, and the outbox subscriber that queues one
delivery per matching endpoint in the transaction of the event."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import InsufficientScope
from app.auth.principal import Principal
from app.auth.scopes import grants
from app.config import Settings
from app.core import signing
from app.core.clock import now
from app.core.etag import entity_tag, require_if_match
from app.core.outbox import OutboxEvent
from app.core.pagination import PageParams, SortKey, paginate
from app.messaging.webhooks.events import read_scope_of
from app.messaging.webhooks.exceptions import DeliveryNotFound, EndpointDisabled, EndpointNotFound
from app.messaging.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.messaging.webhooks.repository import DeliveryRepository, EndpointRepository
from app.messaging.webhooks.schemas import EndpointCreate, EndpointRead, EndpointUpdate
from app.messaging.webhooks.targets import check_target
from app.messaging.webhooks.views import endpoint_read
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile

_SUBSCRIPTIONS = "webhook_subscriptions"
"""Per-transaction cache (in `session.info`): a checkout emits several events for one shop."""


async def _subscriptions(
    session: AsyncSession, seller_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, list[str]]]]:
    """Each shop's endpoints and what they subscribe to, read once per transaction for all
    the shops not read yet (one query)."""
    cache: dict[uuid.UUID, list[tuple[uuid.UUID, list[str]]]] = session.info.setdefault(
        _SUBSCRIPTIONS, {}
    )
    if missing := seller_ids - cache.keys():
        cache.update(await EndpointRepository(session).subscriptions_of(missing))
    return cache


def _forget_subscriptions(session: AsyncSession) -> None:
    session.info.pop(_SUBSCRIPTIONS, None)


async def on_events(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """Outbox subscriber: queue each event for each of its shop's endpoints that want it —
    disabled ones too, which are not sent to until re-enabled, so that nothing is lost."""
    shops = {event.seller_id for event in events if event.seller_id is not None}
    if not shops:
        return
    subscriptions = await _subscriptions(session, shops)
    for event in events:
        if event.seller_id is None:
            continue
        for endpoint_id, types in subscriptions[event.seller_id]:
            if event.type not in types:
                continue
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint_id,
                    seller_id=event.seller_id,
                    event_id=event.id,
                    event_type=event.type,
                    status=DeliveryStatus.pending,
                    next_attempt_at=event.occurred_at,
                    created_at=event.occurred_at,
                )
            )


def _check_key_may_read(principal: Principal, event_types: list[str]) -> None:
    """A key subscribing to events must be allowed to read what they carry: webhooks are
    not a way around its scopes."""
    scopes = principal.key_scopes
    if scopes is None:
        return
    missing = sorted(
        {read_scope_of(t) for t in event_types if not grants(scopes, read_scope_of(t))}
    )
    if missing:
        raise InsufficientScope(f"these event types need the {', '.join(missing)} scope(s)")


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    seller: SellerProfile,
    data: EndpointCreate,
    *,
    settings: Settings,
) -> WebhookEndpoint:
    _check_key_may_read(principal, data.event_types)
    url = str(data.url)
    await check_target(settings, url)
    _forget_subscriptions(session)
    return await EndpointRepository(session).add(
        WebhookEndpoint(
            seller_id=seller.id,
            url=url,
            description=data.description,
            event_types=list(data.event_types),
            secret=signing.new_secret(),
        )
    )


async def list_endpoints(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[WebhookEndpoint], str | None]:
    statement = EndpointRepository(session).of_seller(seller_service.require_shop(principal))
    return await paginate(
        session, statement, keys=[SortKey(WebhookEndpoint.id, descending=True)], page=page
    )


async def get_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, *, lock: bool
) -> WebhookEndpoint:
    """One of the caller's shop's endpoints; 404 for another shop's, decided by the query.
    `lock` holds its row for the rest of the transaction."""
    endpoint = await EndpointRepository(session).get_of_seller(
        endpoint_id, seller_service.require_shop(principal), lock=lock
    )
    if endpoint is None:
        raise EndpointNotFound()
    return endpoint


def entity_tag_of(settings: Settings, endpoint: WebhookEndpoint, view: EndpointRead) -> str:
    """The ETag of `view` of `endpoint` (see app.core.etag)."""
    return entity_tag(settings.jwt_secret, view, endpoint)


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    endpoint: WebhookEndpoint,
    data: EndpointUpdate,
    *,
    settings: Settings,
    if_match: str | None,
) -> None:
    """The seller's edit of `endpoint` (row-locked by its guard); with `if_match`, only to
    the endpoint as last read (412 otherwise), compared under that lock so that of two
    editors with the same tag exactly one wins."""
    if if_match is not None:
        require_if_match(if_match, entity_tag_of(settings, endpoint, endpoint_read(endpoint)))
    # Whatever a key changes (the URL above all), it may not leave an endpoint sending it
    # events it may not read.
    _check_key_may_read(principal, data.event_types or endpoint.event_types)
    if data.url is not None:
        endpoint.url = str(data.url)
        await check_target(settings, endpoint.url)
    if data.event_types is not None:
        endpoint.event_types = list(data.event_types)
        _forget_subscriptions(session)
    if "description" in data.model_fields_set:
        endpoint.description = data.description
    if data.enabled is not None:
        endpoint.enabled = data.enabled
        endpoint.disabled_reason = None if data.enabled else "disabled by the seller"
    await session.flush()


async def rotate_secret(
    session: AsyncSession, endpoint: WebhookEndpoint, *, settings: Settings
) -> None:
    """A new secret signs every request from now on; the old one signs them too (a second
    signature in the same header) for `webhook_secret_overlap`, while the receiver switches."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now() + settings.webhook_secret_overlap
    endpoint.secret = signing.new_secret()
    await session.flush()


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Deletes the endpoint with its queue and delivery log."""
    _forget_subscriptions(session)
    await session.delete(endpoint)
    await session.flush()


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    endpoint_id: uuid.UUID | None,
    status: DeliveryStatus | None,
) -> tuple[list[WebhookDelivery], str | None]:
    statement = DeliveryRepository(session).of_seller(
        seller_service.require_shop(principal), endpoint_id=endpoint_id, status=status
    )
    return await paginate(
        session, statement, keys=[SortKey(WebhookDelivery.id, descending=True)], page=page
    )


async def get_delivery(
    session: AsyncSession, principal: Principal, delivery_id: uuid.UUID, *, lock: bool
) -> WebhookDelivery:
    """One of the caller's shop's deliveries; 404 for another shop's, decided by the query.
    `lock` holds its row for the rest of the transaction."""
    delivery = await DeliveryRepository(session).get_of_seller(
        delivery_id, seller_service.require_shop(principal), lock=lock
    )
    if delivery is None:
        raise DeliveryNotFound()
    return delivery


async def with_attempts(
    session: AsyncSession, delivery: WebhookDelivery
) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    """The delivery and its attempt log, newest first."""
    return delivery, await DeliveryRepository(session).attempts_of(delivery.id)


async def redeliver(
    session: AsyncSession, principal: Principal, delivery: WebhookDelivery
) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    """Send the event again now, with a fresh round of retries (same `webhook-id`);
    `delivery` is row-locked by its guard."""
    endpoint = await get_endpoint(session, principal, delivery.endpoint_id, lock=False)
    if not endpoint.enabled:
        raise EndpointDisabled("re-enable the endpoint first")
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = now()
    delivery.claim_id = None  # an attempt in flight now records nothing
    await session.flush()
    return await with_attempts(session, delivery)
