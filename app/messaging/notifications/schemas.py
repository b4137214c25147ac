import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, JsonValue, StrictBool

from app.core.schemas import RequestSchema, Schema
from app.messaging.notifications.models import ResourceType
from app.messaging.notifications.rules import EMAIL, ByEmail


class NotificationRead(Schema):
    id: uuid.UUID
    type: str
    """The event announced, e.g. `order.shipped`."""
    title: str = Field(description="A short headline")
    body: str = Field(description="One or two sentences to show under the title")
    resource_type: ResourceType | None = Field(
        description=(
            "What it links to, read at: order `/v1/orders/{id}`, return `/v1/returns/{id}`, "
            "dispute `/v1/disputes/{id}`, review `/v1/reviews/{id}`, payout "
            "`/v1/sellers/me/payouts/{id}`, listing `/v1/listings/{id}`, conversation "
            "`/v1/conversations/{id}`, api_key `/v1/me/api-keys/{id}`, webhook_endpoint "
            "`/v1/webhooks/endpoints/{id}`; null: nothing to open"
        )
    )
    resource_id: uuid.UUID | None = Field(description="The id of `resource_type`'s resource")
    data: dict[str, Any]
    """Ids of what it is about (order_id, dispute_id, listing_id…)."""
    created_at: datetime
    read_at: datetime | None


class NotificationSummary(Schema):
    unread: int


class MarkedRead(Schema):
    marked: int
    """How many notifications were unread and are now read."""


class EmailPreference(Schema):
    type: str = Field(description="The notification kind (an event type), e.g. `order.paid`")
    title: str = Field(description="Its notifications' headline")
    enabled: bool = Field(description="Whether it is mailed to you as well")
    can_turn_off: bool = Field(description="False for security notices, which are always mailed")


class NotificationPreferences(Schema):
    email: list[EmailPreference]
    """Every kind that can come by email. The others are shown in the API only."""


OPTIONAL_MAIL_KINDS = sorted(str(kind) for kind, by in EMAIL.items() if by is ByEmail.optional)


def _optional_kind(kind: str) -> str:
    if kind not in OPTIONAL_MAIL_KINDS:
        raise ValueError(
            "not a kind of mail that can be turned off (security notices are always mailed; "
            "other kinds are never mailed)"
        )
    return kind


OptionalMailKind = Annotated[str, AfterValidator(_optional_kind)]


class NotificationPreferencesUpdate(RequestSchema):
    email: dict[OptionalMailKind, StrictBool] = Field(
        max_length=len(OPTIONAL_MAIL_KINDS),
        description="Kinds to turn on (true) or off (false) by email; kinds left out keep "
        "their setting",
        examples=[{"order.paid": False, "payout.paid": True}],
        json_schema_extra={"propertyNames": {"enum": list[JsonValue](OPTIONAL_MAIL_KINDS)}},
    )


class Unsubscribed(Schema):
    type: str = Field(description="The kind of mail turned off")
    enabled: Literal[False] = False
