import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, enum_column


class ReviewedRole(StrEnum):
    """What the reviewed person was in the order: buyers review sellers and vice versa."""

    seller = "seller"
    buyer = "buyer"


class ReviewRole(StrEnum):
    """The caller's part in one review: who wrote it, who it is about, or an admin."""

    author = "author"
    subject = "subject"
    admin = "admin"


# Reviews the public may see; the aggregates and the public lists read only these, through
# the partial index below.
VISIBLE_REVIEW_PREDICATE = "published_at IS NOT NULL AND hidden_at IS NULL"


class Review(IdMixin, Base):
    """One party's review of the other after an order completed. Hidden from everyone but
    its author until both have written or the review window has closed; then both publish
    together."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("order_id", "about"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index(
            "ix_reviews_visible",
            "subject_user_id",
            "about",
            "published_at",
            "id",
            postgresql_where=text(VISIBLE_REVIEW_PREDICATE),
            sqlite_where=text(VISIBLE_REVIEW_PREDICATE),
        ),
        Index(
            "ix_reviews_unpublished",
            "window_closes_at",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    subject_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    """The reviewed person (a seller's user, for reviews of sellers)."""
    about: Mapped[ReviewedRole] = mapped_column(enum_column(ReviewedRole, "reviewed_role"))
    rating: Mapped[int]
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    window_closes_at: Mapped[datetime]
    """The order's review deadline: unpublished by then, the worker publishes it."""
    published_at: Mapped[datetime | None]
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
