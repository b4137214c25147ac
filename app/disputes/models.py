import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class ReturnReason(StrEnum):
    not_as_described = "not_as_described"
    damaged = "damaged"
    wrong_item = "wrong_item"
    no_longer_needed = "no_longer_needed"

    @property
    def seller_at_fault(self) -> bool:
        """The seller then pays the shipping back too."""
        return self is not ReturnReason.no_longer_needed


class ReturnStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"
    shipped_back = "shipped_back"
    received = "received"


class ReturnRequest(IdMixin, TimestampMixin, Base):
    """A buyer sending (some of) a completed order back for a refund. One per order."""

    __tablename__ = "returns"
    __table_args__ = (
        Index("ix_returns_status_respond_by", "status", "respond_by"),
        Index("ix_returns_buyer", "buyer_id", "id"),
        Index("ix_returns_seller", "seller_id", "id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), unique=True)
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"))
    status: Mapped[ReturnStatus] = mapped_column(enum_column(ReturnStatus, "return_status"))
    reason: Mapped[ReturnReason] = mapped_column(enum_column(ReturnReason, "return_reason"))
    details: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    refund_amount: Mapped[int] = mapped_column(BigInteger)
    """What the buyer gets back on receipt: the items, plus their shipping if the seller is at
    fault; minor units."""
    respond_by: Mapped[datetime | None]
    """The seller's deadline to approve or reject; silence past it approves."""
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None]

    items: Mapped[list["ReturnItem"]] = relationship(
        lazy="raise", order_by="ReturnItem.id", cascade="all, delete-orphan"
    )


class ReturnItem(IdMixin, Base):
    __tablename__ = "return_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id"), index=True)
    order_line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order_lines.id"))
    quantity: Mapped[int]


class DisputeReason(StrEnum):
    not_received = "not_received"
    not_as_described = "not_as_described"
    damaged = "damaged"
    other = "other"


class DisputeOutcome(StrEnum):
    refund_buyer = "refund_buyer"
    partial_refund = "partial_refund"
    release_to_seller = "release_to_seller"


class DisputeStatus(StrEnum):
    open = "open"
    """Opened; the seller has not answered yet."""
    awaiting_buyer = "awaiting_buyer"
    awaiting_seller = "awaiting_seller"
    escalated = "escalated"
    resolved = "resolved"


class Dispute(IdMixin, TimestampMixin, Base):
    """The buyer asking the platform to step in on an order. One per order."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_status_respond_by", "status", "respond_by"),
        Index("ix_disputes_status_opened", "status", "id"),
        Index("ix_disputes_buyer", "buyer_id", "id"),
        Index("ix_disputes_seller", "seller_id", "id"),
        CheckConstraint(
            "requested_amount IS NULL OR requested_amount > 0", name="requested_amount_positive"
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), unique=True)
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"))
    status: Mapped[DisputeStatus] = mapped_column(enum_column(DisputeStatus, "dispute_status"))
    reason: Mapped[DisputeReason] = mapped_column(enum_column(DisputeReason, "dispute_reason"))
    description: Mapped[str] = mapped_column(Text)
    requested_outcome: Mapped[DisputeOutcome] = mapped_column(
        enum_column(DisputeOutcome, "dispute_requested_outcome")
    )
    currency: Mapped[str] = mapped_column(String(3))
    requested_amount: Mapped[int | None] = mapped_column(BigInteger)
    """For a requested partial refund, minor units."""
    respond_by: Mapped[datetime | None]
    """While the seller owes an answer: past it, the dispute resolves for the buyer."""
    outcome: Mapped[DisputeOutcome | None] = mapped_column(
        enum_column(DisputeOutcome, "dispute_outcome")
    )
    refund_amount: Mapped[int | None] = mapped_column(BigInteger)
    """Given back to the buyer by the resolution, minor units."""
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    """The admin who decided; null when the response deadline decided."""
    resolved_at: Mapped[datetime | None]

    messages: Mapped[list["DisputeMessage"]] = relationship(
        lazy="raise", order_by="DisputeMessage.id"
    )


class DisputeMessage(IdMixin, Base):
    __tablename__ = "dispute_messages"

    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    author_role: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    evidence_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=now)


class Evidence(IdMixin, Base):
    """A file attached to a dispute: stored privately, served only to its parties and
    admins."""

    __tablename__ = "dispute_evidence"

    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    uploader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    uploader_role: Mapped[str] = mapped_column(String(16))
    """The uploader's part in the dispute when they uploaded it: buyer, seller or admin."""
    storage_key: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=now)
