"""The offers tables: one thread per buyer's negotiation over a listing, and its rounds."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class OfferStatus(StrEnum):
    pending_seller = "pending_seller"
    """The buyer proposed; the shop answers."""
    pending_buyer = "pending_buyer"
    """The shop countered; the buyer answers."""
    accepted = "accepted"
    """Agreed: the stock is reserved until `pay_by` for the buyer to check out."""
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"
    purchased = "purchased"
    """Checked out: the reservation belongs to the order now."""


OPEN_STATUSES = (OfferStatus.pending_seller, OfferStatus.pending_buyer, OfferStatus.accepted)
_OPEN = text("status IN ('pending_seller', 'pending_buyer', 'accepted')")


class OfferParty(StrEnum):
    buyer = "buyer"
    seller = "seller"


class Offer(IdMixin, TimestampMixin, Base):
    """A buyer's negotiation with a shop over one listing: the terms on the table now
    (`amount` for each of `quantity` units, proposed by `proposed_by`) and its state. At
    most one open (pending or accepted) thread per buyer and listing, kept by a unique
    partial index."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index(
            "ux_offers_open_buyer_listing",
            "buyer_id",
            "listing_id",
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        Index("ix_offers_buyer", "buyer_id", "id"),
        Index("ix_offers_seller", "seller_id", "id"),
        # The expiry sweep reads the open offers by deadline.
        Index("ix_offers_open_expires", "expires_at", postgresql_where=_OPEN, sqlite_where=_OPEN),
    )

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id"))
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"))
    status: Mapped[OfferStatus] = mapped_column(enum_column(OfferStatus, "offer_status"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    """The unit price on the table, minor units of `currency`; positive, below the listing's
    price when proposed."""
    quantity: Mapped[int]
    proposed_by: Mapped[OfferParty] = mapped_column(enum_column(OfferParty, "offer_party"))
    expires_at: Mapped[datetime]
    """The deadline of the current state: an answer to a pending proposal, or the checkout
    of an accepted one (`pay_by`). Past it the worker expires the offer."""
    accepted_at: Mapped[datetime | None]
    pay_by: Mapped[datetime | None]
    """An accepted offer's stock is held for the buyer until then."""
    closed_at: Mapped[datetime | None]
    """When it was declined, withdrawn, expired or checked out."""
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkouts.id"))
    """The checkout that bought it (`purchased`)."""
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("conversations.id"))
    """The buyer's conversation about the listing, where its steps are shown; null for an
    offer declined at once (the shop never heard of it)."""

    rounds: Mapped[list["OfferRound"]] = relationship(
        lazy="raise", order_by="OfferRound.id", cascade="all, delete-orphan"
    )


class OfferRound(IdMixin, Base):
    """One proposal of a thread: the buyer's offer, then each counter-offer. Append-only."""

    __tablename__ = "offer_rounds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_offer_rounds_offer", "offer_id", "id"),
    )

    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    by: Mapped[OfferParty] = mapped_column(enum_column(OfferParty, "offer_party"))
    amount: Mapped[int] = mapped_column(BigInteger)
    """Unit price proposed, minor units of the offer's currency; positive."""
    quantity: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=now)
