import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.core.schemas import Schema
from app.messaging.notifications.models import ResourceType


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
