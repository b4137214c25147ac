import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, enum_column


class Side(StrEnum):
    """A participant of a conversation: the buyer, or the seller (whose user acts for it)."""

    buyer = "buyer"
    seller = "seller"


class MessageKind(StrEnum):
    text = "text"
    """Written by a participant."""
    offer = "offer"
    """A step of an offer (made, countered, accepted, declined), written by the platform
    for its party; `offer_id` names the offer, for clients to show it inline."""


class Conversation(IdMixin, Base):
    """A buyer talking to a seller about one listing or one order. One per (buyer, listing)
    and one per order."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("buyer_id", "listing_id"),
        CheckConstraint("(listing_id IS NULL) <> (order_id IS NULL)", name="about_one_subject"),
        Index("ix_conversations_buyer_activity", "buyer_id", "last_message_at", "id"),
        Index("ix_conversations_seller_activity", "seller_id", "last_message_at", "id"),
    )

    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"))
    listing_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("listings.id"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_message_at: Mapped[datetime]
    """The newest message's time: the list's "last activity" order."""
    last_message_preview: Mapped[str] = mapped_column(String(120))
    """The start of the newest message, as stored (so masked where the message is)."""
    buyer_read_up_to: Mapped[uuid.UUID | None]
    """The newest message the buyer has read (message ids are time-ordered); null: none."""
    seller_read_up_to: Mapped[uuid.UUID | None]
    """The newest message the seller has read; null: none."""


class Message(IdMixin, Base):
    """One message of a conversation. Append-only; stored as shown (masked before payment),
    so the hidden contact details are never kept."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        Index("ix_conversation_messages_conversation", "conversation_id", "id"),
        # The per-sender rate limit counts a sender's recent messages across conversations.
        Index("ix_conversation_messages_sender_created", "sender_id", "created_at"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"))
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    sender_role: Mapped[Side] = mapped_column(enum_column(Side, "conversation_side"))
    body: Mapped[str] = mapped_column(Text)
    masked: Mapped[bool] = mapped_column(default=False)
    """Contact details in it were replaced by `[hidden]`."""
    kind: Mapped[MessageKind] = mapped_column(
        enum_column(MessageKind, "message_kind"),
        default=MessageKind.text,
        server_default=MessageKind.text.value,
    )
    offer_id: Mapped[uuid.UUID | None]
    """The offer an `offer` message shows (no foreign key: offers rank above conversations)."""
    created_at: Mapped[datetime] = mapped_column(default=now)
