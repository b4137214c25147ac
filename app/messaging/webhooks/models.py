import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """Where a seller wants events sent, and which ones."""

    __tablename__ = "webhook_endpoints"

    seller_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sellers.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(64))
    """`whsec_<base64>`; kept in clear because every request is signed with it, shown to
    the seller only when created or rotated."""
    previous_secret: Mapped[str | None] = mapped_column(String(64))
    """The secret before the last rotation, which still signs until `previous_secret_until`."""
    previous_secret_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))


class DeliveryStatus(StrEnum):
    pending = "pending"
    """Waiting for its next attempt (or being attempted now)."""
    succeeded = "succeeded"
    failed = "failed"
    """Every attempt failed; only a redelivery sends it again."""


class WebhookDelivery(IdMixin, Base):
    """One event for one endpoint, attempted until it succeeds or the retries run out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_seller_id_id", "seller_id", "id"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus, "webhook_delivery_status")
    )
    attempts: Mapped[int] = mapped_column(default=0)
    """Attempts since it was created or last redelivered."""
    next_attempt_at: Mapped[datetime | None]
    """When a worker may (re)try it; while an attempt is in flight, the end of its lease."""
    claim_id: Mapped[uuid.UUID | None]
    """Set by the claim of the attempt in flight; only that attempt's outcome is recorded."""
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)


class WebhookAttempt(IdMixin, Base):
    """One HTTP request of a delivery, for the delivery log."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=now)
    status_code: Mapped[int | None]
    """The receiver's HTTP status; null when no response came (timeout, refused, blocked)."""
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
