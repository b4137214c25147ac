"""Commission rules: the percent the platform takes of a category's or a shop's sales."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, IdMixin, TimestampMixin


class CommissionRule(IdMixin, TimestampMixin, Base):
    """The commission percent for one category (its whole subtree) or one shop (an
    operator's negotiated rate), between two dates. Checkout picks, for each line, the shop's
    rule if one is in force, else the rule of the line's nearest category (the most specific
    wins), else the platform's default (`MARKETPLACE_COMMISSION_PERCENT`); the fixed fee per
    order stays the platform's."""

    __tablename__ = "commission_rules"
    __table_args__ = (
        CheckConstraint("(category_id IS NULL) <> (seller_id IS NULL)", name="one_scope"),
        CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        Index("ix_commission_rules_category_id", "category_id"),
        Index("ix_commission_rules_seller_id", "seller_id"),
    )

    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE")
    )
    seller_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sellers.id", ondelete="CASCADE")
    )
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    """Of a line's sale: its price and shipping less the discounts its shop funds."""
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    """Exclusive; null: until replaced or deleted."""
    note: Mapped[str | None] = mapped_column(String(500))
    """Why (a negotiated contract, a promotion for a category)."""
