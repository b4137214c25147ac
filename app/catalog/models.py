import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column
from app.sellers.models import SellerProfile
from app.shipping.models import ShippingProfile


class Category(IdMixin, Base):
    """A node of the admin-managed category tree; listings go in leaves."""

    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    """Order among siblings (ascending)."""


class ListingStatus(StrEnum):
    draft = "draft"
    pending_review = "pending_review"
    active = "active"
    paused = "paused"
    sold_out = "sold_out"
    rejected = "rejected"
    archived = "archived"
    removed = "removed"


class Condition(StrEnum):
    new = "new"
    like_new = "like_new"
    good = "good"
    fair = "fair"
    for_parts = "for_parts"


# The predicate of every search index: PostgreSQL uses a partial index only when the query
# repeats it, so the search repository builds its filter from this same text.
LIVE_LISTING_PREDICATE = "status = 'active' AND seller_approved"
_live = text(LIVE_LISTING_PREDICATE)


def _live_index(name: str, *columns: str) -> Index:
    return Index(name, *columns, postgresql_where=_live, sqlite_where=_live)


class Listing(IdMixin, TimestampMixin, Base):
    """Goods a seller offers. On PostgreSQL the table also has a generated `search_vector`
    (tsvector over title and description) with a GIN index, created by the migration."""

    __tablename__ = "listings"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("price_amount > 0", name="price_positive"),
        CheckConstraint("shipping_fee_amount >= 0", name="shipping_fee_not_negative"),
        _live_index("ix_listings_live_published", "published_at", "id"),
        _live_index("ix_listings_live_price", "price_amount", "id"),
        _live_index("ix_listings_live_category_published", "category_id", "published_at", "id"),
        _live_index("ix_listings_live_category_price", "category_id", "price_amount", "id"),
        _live_index("ix_listings_live_seller_published", "seller_id", "published_at", "id"),
        Index("ix_listings_seller_status", "seller_id", "status", "id"),
        Index("ix_listings_status", "status", "id"),
        Index(
            "ix_listings_reported",
            "report_count",
            "id",
            postgresql_where=text("report_count > 0"),
            sqlite_where=text("report_count > 0"),
        ),
        # The watchlists worker reads the favourited listings changed since its watermark.
        Index(
            "ix_listings_favourited_updated",
            "updated_at",
            "id",
            postgresql_where=text("favourite_count > 0"),
            sqlite_where=text("favourite_count > 0"),
        ),
    )

    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"))
    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(140))
    description: Mapped[str] = mapped_column(Text)
    price_amount: Mapped[int] = mapped_column(BigInteger)
    """Unit price in minor units of `currency`; positive."""
    currency: Mapped[str] = mapped_column(String(3))
    shipping_fee_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """Shipping per order line in minor units of `currency`; zero or positive. Charged only
    while the listing has no shipping profile."""
    shipping_profile_id: Mapped[uuid.UUID | None] = mapped_column(
        # No ON DELETE: a profile that a listing which may still sell points to cannot be
        # deleted, and archived and removed listings are let go of first (see
        # app.shipping.profiles.delete). SQLite keeps no action of a foreign key added to an
        # existing table where its schema can be read back.
        ForeignKey(ShippingProfile.id),
        index=True,
    )
    """The shop's shipping profile that charges this listing's shipping (combined with the
    order's other items on it); null: the flat `shipping_fee_amount` per order line."""
    quantity: Mapped[int]
    """Units in stock; never negative (checked by the database too)."""
    condition: Mapped[Condition] = mapped_column(enum_column(Condition, "listing_condition"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    handling_days: Mapped[int] = mapped_column(default=2)
    low_stock_threshold: Mapped[int | None]
    """The seller hears about it when a sale brings the quantity down to this; null: never."""
    accepts_offers: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    """Buyers may propose a price (`app.offers`)."""
    offer_floor_amount: Mapped[int | None] = mapped_column(BigInteger)
    """Offers below this unit price, minor units of `currency`, are declined at once; below
    the price; null: none. Only the seller sees it."""
    status: Mapped[ListingStatus] = mapped_column(enum_column(ListingStatus, "listing_status"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    """Why a moderator rejected or removed it, or why it awaits review."""
    seller_approved: Mapped[bool] = mapped_column(default=True)
    """Mirror of "the seller is approved" so search filters one table; kept in step by
    catalog.service.set_seller_visibility whenever a seller is suspended or reinstated."""
    report_count: Mapped[int] = mapped_column(default=0)
    favourite_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """How many people keep it as a favourite (shown to its seller and admins); kept by
    catalog.service.adjust_favourite_count, one atomic UPDATE per change."""
    held_while_paused: Mapped[bool] = mapped_column(default=False)
    """Sent to review by an edit while paused: approval returns it to `paused`, not to sale."""
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    """When it last went live (null until it first does): the "newest" sort key. Every live
    listing has one (set on approval), so search never meets a null."""

    # lazy="raise": every read says what it loads, so no page can turn into N+1 queries.
    seller: Mapped[SellerProfile] = relationship(lazy="raise")
    images: Mapped[list["ListingImage"]] = relationship(
        lazy="raise", order_by="ListingImage.position", cascade="all, delete-orphan"
    )


MAX_ALT_TEXT = 500


class ListingImage(IdMixin, Base):
    __tablename__ = "listing_images"

    listing_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(String(255))
    """The file as uploaded, byte for byte."""
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=now)
    alt_text: Mapped[str] = mapped_column(String(MAX_ALT_TEXT), default="", server_default="")
    """What the image shows, for screen readers (empty: not described yet)."""
    width: Mapped[int | None]
    """Pixels of the original as displayed (after its EXIF orientation); null for images
    uploaded before sizes were derived."""
    height: Mapped[int | None]
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    """The derived sizes (scaled down, oriented, without metadata); null for images uploaded
    before they were made: the original stands in."""
    medium_key: Mapped[str | None] = mapped_column(String(255))


class ReportReason(StrEnum):
    counterfeit = "counterfeit"
    ip_infringement = "ip_infringement"
    prohibited = "prohibited"
    fraud = "fraud"
    other = "other"


class ReportStatus(StrEnum):
    open = "open"
    """Waiting for an admin."""
    dismissed = "dismissed"
    """An admin looked and left the listing up."""
    upheld = "upheld"
    """The listing was removed."""


class ListingReport(IdMixin, Base):
    """One user's report of one listing (one per user and listing)."""

    __tablename__ = "listing_reports"
    __table_args__ = (
        UniqueConstraint("listing_id", "reporter_id"),
        Index("ix_listing_reports_listing_status", "listing_id", "status"),
    )

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[ReportReason] = mapped_column(enum_column(ReportReason, "report_reason"))
    details: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    status: Mapped[ReportStatus] = mapped_column(
        enum_column(ReportStatus, "report_status"), default=ReportStatus.open
    )
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[uuid.UUID | None]
    """The admin who decided (no foreign key: the audit log keeps who did what)."""
    resolution_reason: Mapped[str | None] = mapped_column(Text)
    """The admin's words to the reporter, if any."""
