import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class SellerStatus(StrEnum):
    pending_review = "pending_review"
    approved = "approved"
    rejected = "rejected"
    suspended = "suspended"
    closed = "closed"
    """The owner deleted their account: the shop is gone for good (its orders are kept)."""


class SellerType(StrEnum):
    individual = "individual"
    business = "business"


class SellerProfile(IdMixin, TimestampMixin, Base):
    """A user's shop. One per user; re-applying after a rejection reuses it."""

    __tablename__ = "sellers"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    shop_name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    """URL-safe form of the shop name; its uniqueness makes shop names unique ignoring case."""
    description: Mapped[str] = mapped_column(Text, default="")
    legal_name: Mapped[str] = mapped_column(String(200))
    seller_type: Mapped[SellerType] = mapped_column(enum_column(SellerType, "seller_type"))
    country: Mapped[str] = mapped_column(String(2))
    """ISO 3166-1 alpha-2."""
    contact_email: Mapped[str] = mapped_column(String(320))
    contact_phone: Mapped[str] = mapped_column(String(32))
    payout_account: Mapped[str] = mapped_column(String(64))
    """Bank account (IBAN or similar). Secret: only ever read back masked, never logged."""
    status: Mapped[SellerStatus] = mapped_column(
        enum_column(SellerStatus, "seller_status"), index=True
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    """Why it was rejected or suspended; shown to the applicant."""
    approved_at: Mapped[datetime | None]
    """First approval: the storefront's "joined" date."""
    decided_at: Mapped[datetime | None]
