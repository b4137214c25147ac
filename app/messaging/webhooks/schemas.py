import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    UrlConstraints,
    field_validator,
)

from app.core.schemas import RequestSchema, Schema
from app.disputes.events import DisputeEventType
from app.messaging.events import WEBHOOK_EVENT_TYPES
from app.messaging.webhooks.models import DeliveryStatus
from app.orders.events import OrderEventType

MAX_URL_LENGTH = 2000
MAX_STORED_URL_LENGTH = 2048  # the column


def _fits_the_column(url: HttpUrl) -> HttpUrl:
    """Normalising a URL may lengthen it (a trailing slash, percent-encoded characters), so
    the input's limit leaves room and the normalised URL is checked against the column."""
    if len(str(url)) > MAX_STORED_URL_LENGTH:
        raise ValueError(f"at most {MAX_STORED_URL_LENGTH} characters once normalised")
    return url


WebhookUrl = Annotated[
    HttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH), AfterValidator(_fits_the_column)
]
# The spec lists the registry's names; the validator below keeps them as a set.
_NAMES = [event.value for event in WEBHOOK_EVENT_TYPES]
EventTypeName = Annotated[str, Field(json_schema_extra={"enum": _NAMES})]
EventTypes = Annotated[list[EventTypeName], Field(min_length=1, max_length=len(_NAMES))]


def _known_event_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = sorted(set(value) - set(_NAMES))
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)}")
    return sorted(set(value))


class EndpointCreate(RequestSchema):
    url: WebhookUrl
    event_types: EventTypes
    """Which events to receive (see the `webhooks_event_types` operation)."""
    description: Annotated[str | None, Field(max_length=200)] = None

    _check_types = field_validator("event_types")(_known_event_types)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://shop.example.com/hooks/marketplace",
                    "event_types": [
                        OrderEventType.paid.value,
                        OrderEventType.cancelled.value,
                        DisputeEventType.opened.value,
                    ],
                    "description": "order sync",
                }
            ]
        },
    )


class EndpointUpdate(RequestSchema):
    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    description: Annotated[str | None, Field(max_length=200)] = None
    enabled: StrictBool | None = None
    """`true` re-enables an endpoint the platform disabled after repeated failures."""

    _check_types = field_validator("event_types")(_known_event_types)


class EndpointRead(Schema):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    previous_secret_until: datetime | None
    """After a rotation: until then requests are signed with the previous secret as well."""
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointRead):
    secret: str
    """The signing secret, shown only now: store it to verify signatures."""


class EventTypeRead(Schema):
    type: str
    description: str


class AttemptRead(Schema):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(Schema):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    """The `webhook-id` header: the same on every attempt, for de-duplication."""
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryDetail(DeliveryRead):
    attempt_log: list[AttemptRead]
    """Every request of this delivery, newest first."""
