import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, enum_column


class ResourceType(StrEnum):
    """What a notification links to; each is read at its own path (`resource_id` as `{id}`)."""

    order = "order"
    """`GET /v1/orders/{id}`"""
    return_request = "return"
    """`GET /v1/returns/{id}`"""
    dispute = "dispute"
    """`GET /v1/disputes/{id}`"""
    review = "review"
    """`GET /v1/reviews/{id}`"""
    payout = "payout"
    """`GET /v1/sellers/me/payouts/{id}`"""
    listing = "listing"
    """`GET /v1/listings/{id}`"""
    conversation = "conversation"
    """`GET /v1/conversations/{id}`"""
    api_key = "api_key"
    """`GET /v1/me/api-keys/{id}`"""
    webhook_endpoint = "webhook_endpoint"
    """`GET /v1/webhooks/endpoints/{id}`"""


class Notification(IdMixin, Base):
    """Something a person should know about, shown in the app until they read it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_id", "user_id", "id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    """The domain event it announces, e.g. `order.shipped`."""
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(500))
    """One or two sentences a screen shows under the title."""
    resource_type: Mapped[ResourceType | None] = mapped_column(
        enum_column(ResourceType, "notification_resource_type")
    )
    """What it links to (with `resource_id`); null: nothing to open."""
    resource_id: Mapped[uuid.UUID | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The event's ids (order, return, dispute…), for the app to link to."""
    event_id: Mapped[uuid.UUID | None]
    """The outbox event it came from; null for platform notices (an endpoint disabled)."""
    created_at: Mapped[datetime] = mapped_column(default=now)
    read_at: Mapped[datetime | None]
