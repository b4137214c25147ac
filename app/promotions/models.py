"""The promotions tables: the promotions themselves (with their counters), each buyer's use
of one, and the redemptions that orders carry."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class PromotionKind(StrEnum):
    percent = "percent"
    """A percentage of the eligible items, optionally capped (`max_discount`)."""
    fixed = "fixed"
    """An amount off the eligible items (never more than they cost)."""
    threshold = "threshold"
    """Spend X, save Y: the highest tier the eligible items reach."""


class FundedBy(StrEnum):
    platform = "platform"
    """Made by an admin: the platform pays for it."""
    shop = "shop"
    """Made by a seller: the shop pays for it, and it applies to its own listings only."""


class Promotion(IdMixin, TimestampMixin, Base):
    """A discount: applied automatically (no `code`) or when a buyer enters its code."""

    __tablename__ = "promotions"
    __table_args__ = (
        # A code names one promotion, whoever made it: checkout finds it by the code alone.
        UniqueConstraint("code"),
        CheckConstraint(
            "(funded_by = 'shop') = (seller_id IS NOT NULL)", name="shop_funded_has_seller"
        ),
        CheckConstraint("redemptions >= 0", name="redemptions_not_negative"),
        # The compare-and-set of a redemption keeps to this; the constraint is the last word.
        CheckConstraint(
            "max_redemptions IS NULL OR redemptions <= max_redemptions",
            name="redemptions_within_limit",
        ),
        CheckConstraint("percent IS NULL OR percent BETWEEN 1 AND 100", name="percent_range"),
        CheckConstraint("min_order_amount >= 0", name="min_order_not_negative"),
        Index("ix_promotions_seller_id", "seller_id", "id"),
    )

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[PromotionKind] = mapped_column(enum_column(PromotionKind, "promotion_kind"))
    funded_by: Mapped[FundedBy] = mapped_column(enum_column(FundedBy, "promotion_funded_by"))
    seller_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sellers.id"))
    """The shop that made it and pays for it (shop-funded only)."""
    code: Mapped[str | None] = mapped_column(String(32))
    """Upper case (codes are matched whatever their case); null: automatic."""
    currency: Mapped[str] = mapped_column(String(3))
    """ISO 4217, the platform's: every amount of the promotion is in it."""
    percent: Mapped[int | None] = mapped_column(Integer)
    """`percent` kind: 1 to 100."""
    max_discount_amount: Mapped[int | None] = mapped_column(BigInteger)
    """`percent` kind: the most it takes off one checkout, minor units; null: no cap."""
    fixed_amount: Mapped[int | None] = mapped_column(BigInteger)
    """`fixed` kind: the amount off, minor units, positive."""
    tiers: Mapped[list[dict[str, int]] | None] = mapped_column(JSON)
    """`threshold` kind: `[{"min_subtotal": minor units, "discount": minor units}]`, both
    strictly ascending."""
    min_order_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """The eligible items must cost at least this, minor units; zero: no minimum."""
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    """Ending one early sets it to the moment it ended."""
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    """How many checkouts may use it in all; null: no limit."""
    max_per_buyer: Mapped[int | None] = mapped_column(Integer)
    """How many checkouts of one buyer may use it; null: no limit."""
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    """Checkouts that use it now (a cancelled order gives its use back)."""
    seller_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Only these shops' listings (platform-funded only); empty: any shop."""
    category_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Only listings in these categories or their descendants; empty: any category."""
    listing_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Only these listings; empty: any listing."""


class PromotionUsage(Base):
    """How many checkouts of one buyer use a promotion now: the per-buyer counter, counted by
    compare-and-set like the promotion's own."""

    __tablename__ = "promotion_usages"
    __table_args__ = (CheckConstraint("uses >= 0", name="uses_not_negative"),)

    promotion_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("promotions.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    uses: Mapped[int] = mapped_column(Integer)


class PromotionRedemption(IdMixin, Base):
    """The share of one promotion's discount that one order of a checkout carries. A
    checkout counts once against the promotion's limits however many of its orders share the
    discount; cancelling an order drops its row, and the last row of a checkout to go gives
    the use back."""

    __tablename__ = "promotion_redemptions"
    __table_args__ = (
        UniqueConstraint("promotion_id", "order_id"),
        Index("ix_promotion_redemptions_promotion_checkout", "promotion_id", "checkout_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    promotion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("promotions.id"))
    checkout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkouts.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)
    """The discount this order carries, minor units of the promotion's currency; positive."""
    created_at: Mapped[datetime] = mapped_column(default=now)
