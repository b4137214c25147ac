"""Presenters: endpoints (the signing secret only in the answers that make one), the
delivery log, and the event types an endpoint may subscribe to."""

from collections.abc import Sequence

from app.core.events import EventType
from app.core.schemas import Page
from app.messaging.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.messaging.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    EndpointRead,
    EndpointWithSecret,
    EventTypeRead,
)


def event_type_list(event_types: Sequence[EventType]) -> list[EventTypeRead]:
    return [EventTypeRead(type=e.value, description=e.description) for e in event_types]


def endpoint_read(endpoint: WebhookEndpoint) -> EndpointRead:
    return EndpointRead.model_validate(endpoint)


def endpoint_with_secret(endpoint: WebhookEndpoint) -> EndpointWithSecret:
    return EndpointWithSecret.model_validate(endpoint)


def endpoint_page(
    endpoints: Sequence[WebhookEndpoint], next_cursor: str | None
) -> Page[EndpointRead]:
    return Page(items=[endpoint_read(e) for e in endpoints], next_cursor=next_cursor)


def delivery_page(
    deliveries: Sequence[WebhookDelivery], next_cursor: str | None
) -> Page[DeliveryRead]:
    return Page(items=[DeliveryRead.model_validate(d) for d in deliveries], next_cursor=next_cursor)


def delivery_detail(
    delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt]
) -> DeliveryDetail:
    return DeliveryDetail.model_validate(
        {
            **DeliveryRead.model_validate(delivery).model_dump(),
            "attempt_log": [AttemptRead.model_validate(a) for a in attempts],
        }
    )
