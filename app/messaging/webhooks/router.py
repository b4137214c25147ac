import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.etag import (
    ETAG_HEADER,
    TAGGED_READ,
    TAGGED_WRITE,
    IfMatch,
    IfNoneMatch,
    PreconditionFailed,
    tagged,
)
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of
from app.messaging.events import WEBHOOK_EVENT_TYPES
from app.messaging.webhooks import service, views
from app.messaging.webhooks.dependencies import DeliveryGuard, EndpointGuard
from app.messaging.webhooks.exceptions import (
    DeliveryNotFound,
    EndpointDisabled,
    EndpointNotFound,
    WebhookUrlNotAllowed,
)
from app.messaging.webhooks.models import DeliveryStatus
from app.messaging.webhooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
    EventTypeRead,
)
from app.sellers.dependencies import ActiveSeller, ShopPrincipal
from app.sellers.exceptions import SellerRequired, SellerSuspended

router = APIRouter(
    prefix=f"{API_PREFIX}/webhooks",
    tags=["webhooks"],
    responses=error_responses(InvalidToken, SellerRequired),
)


@router.get("/event-types", response_model=list[EventTypeRead])
async def list_event_types(_shop: ShopPrincipal) -> list[EventTypeRead]:
    """Every event type an endpoint can subscribe to."""
    return views.event_type_list(WEBHOOK_EVENT_TYPES)


@router.post(
    "/endpoints",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointWithSecret,
    responses=error_responses(SellerSuspended, WebhookUrlNotAllowed),
)
async def create_endpoint(
    body: EndpointCreate,
    seller: ActiveSeller,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> EndpointWithSecret:
    """Register a URL for the chosen event types. The answer holds the signing `secret`,
    shown only this once. Requests are signed as the Standard Webhooks spec says:
    `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`
    keyed with the base64-decoded part of the secret after `whsec_`."""
    endpoint = await service.create_endpoint(session, principal, seller, body, settings=settings)
    return views.endpoint_with_secret(endpoint)


@router.get(
    "/endpoints", response_model=Page[EndpointRead], responses=error_responses(InvalidCursor)
)
async def list_endpoints(
    principal: ShopPrincipal, session: DbSession, page: PageQuery
) -> Page[EndpointRead]:
    """My shop's endpoints, newest first (secrets are never shown again)."""
    return page_of(*await service.list_endpoints(session, principal, page), views.endpoint_read)


@router.get(
    "/endpoints/{endpoint_id}",
    response_model=EndpointRead,
    responses={**TAGGED_READ, **error_responses(EndpointNotFound)},
)
async def get_endpoint(
    endpoint: EndpointGuard,
    settings: AppSettings,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> EndpointRead | Response:
    """One of my endpoints. The `ETag` header tags it: send it back in `If-Match` to edit
    only what you read, or in `If-None-Match` to be told 304 when it has not changed."""
    view = views.endpoint_read(endpoint)
    return tagged(response, service.entity_tag_of(settings, endpoint, view), view, if_none_match)


@router.patch(
    "/endpoints/{endpoint_id}",
    response_model=EndpointRead,
    responses={
        **TAGGED_WRITE,
        **error_responses(
            EndpointNotFound, SellerSuspended, WebhookUrlNotAllowed, PreconditionFailed
        ),
    },
)
async def update_endpoint(
    body: EndpointUpdate,
    _seller: ActiveSeller,
    endpoint: EndpointGuard,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> EndpointRead:
    """Change the URL, event types or description, or enable/disable the endpoint. With
    `If-Match` (the `ETag` of your last read) the change applies only if the endpoint has
    not changed since (412 `precondition_failed` otherwise, and nothing changes); the
    answer carries the new `ETag`."""
    await service.update_endpoint(
        session, principal, endpoint, body, settings=settings, if_match=if_match
    )
    view = views.endpoint_read(endpoint)
    response.headers[ETAG_HEADER] = service.entity_tag_of(settings, endpoint, view)
    return view


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    responses=error_responses(EndpointNotFound),
)
async def rotate_endpoint_secret(
    endpoint: EndpointGuard, session: DbSession, settings: AppSettings
) -> EndpointWithSecret:
    """Replace the signing secret (shown only in this answer). For
    `MARKETPLACE_WEBHOOK_SECRET_OVERLAP` (24 h by default) requests carry a signature made
    with the previous secret as well, so the receiver can switch without rejecting any."""
    await service.rotate_secret(session, endpoint, settings=settings)
    return views.endpoint_with_secret(endpoint)


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(EndpointNotFound),
)
async def delete_endpoint(endpoint: EndpointGuard, session: DbSession) -> Response:
    """Delete the endpoint, its pending deliveries and its delivery log."""
    await service.delete_endpoint(session, endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/deliveries", response_model=Page[DeliveryRead], responses=error_responses(InvalidCursor)
)
async def list_deliveries(
    principal: ShopPrincipal,
    session: DbSession,
    page: PageQuery,
    endpoint_id: Annotated[uuid.UUID | None, Query(description="Only this endpoint's")] = None,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> Page[DeliveryRead]:
    """The delivery log of my endpoints, newest first."""
    deliveries, next_cursor = await service.list_deliveries(
        session, principal, page, endpoint_id=endpoint_id, status=delivery_status
    )
    return page_of(deliveries, next_cursor, views.delivery_read)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=error_responses(DeliveryNotFound),
)
async def get_delivery(delivery: DeliveryGuard, session: DbSession) -> DeliveryDetail:
    """One delivery with every attempt: time, HTTP status, error, duration."""
    return views.delivery_detail(*await service.with_attempts(session, delivery))


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryDetail,
    responses=error_responses(DeliveryNotFound, EndpointDisabled),
)
async def redeliver(
    delivery: DeliveryGuard, principal: CurrentPrincipal, session: DbSession
) -> DeliveryDetail:
    """Queue the event again for its endpoint, now, with a fresh round of retries. It keeps
    its `webhook-id`, so a receiver that already processed it can tell."""
    return views.delivery_detail(*await service.redeliver(session, principal, delivery))
