"""Presenters: endpoints (the signing secret only in the answers that make one), the
delivery log, and the event types an endpoint may subscribe to."""

from collections.abc import Sequence

from app.core.events import EventType
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


def delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead.model_validate(delivery)


def delivery_detail(
    delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt]
) -> DeliveryDetail:
    return DeliveryDetail.model_validate(
        {
            **delivery_read(delivery).model_dump(),
            "attempt_log": [AttemptRead.model_validate(a) for a in attempts],
        }
    )
