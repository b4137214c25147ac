"""The watchlists tables: favourites, saved searches, the matches found for them, and the
worker's watermarks."""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class Favourite(IdMixin, Base):
    """A listing a person keeps an eye on, with what they were last told of it: they hear of
    a price below `price_seen` and of stock coming back when `in_stock_seen` is false."""

    __tablename__ = "favourites"
    __table_args__ = (
        UniqueConstraint("user_id", "listing_id"),
        # The worker finds a changed listing's favourites by listing.
        Index("ix_favourites_listing_id", "listing_id", "id"),
        CheckConstraint("price_seen > 0", name="price_seen_positive"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    price_at_favourite: Mapped[int] = mapped_column(BigInteger)
    """The listing's unit price when it was favourited, minor units of `currency`."""
    price_seen: Mapped[int] = mapped_column(BigInteger)
    """The lowest price the person was shown or told of (at favouriting, then by each
    price-drop notice), minor units of `currency`; a rise leaves it."""
    currency: Mapped[str] = mapped_column(String(3))
    in_stock_seen: Mapped[bool]
    """Whether the listing had stock when last looked at: a listing seen without stock that
    is for sale with stock again is news (back in stock)."""


class AlertFrequency(StrEnum):
    instant = "instant"
    """A notice as soon as the worker finds new matches (within a minute or so)."""
    daily = "daily"
    """One digest a day of the new matches, if any."""


class SavedSearch(IdMixin, TimestampMixin, Base):
    """A person's search, kept to hear of new listings matching it. Its filters are those of
    `GET /v1/listings`; it names at least words, a category or a shop."""

    __tablename__ = "saved_searches"
    __table_args__ = (
        Index("ix_saved_searches_user_id", "user_id", "id"),
        CheckConstraint("min_price IS NULL OR min_price >= 0", name="min_price_not_negative"),
        CheckConstraint(
            "max_price IS NULL OR min_price IS NULL OR max_price >= min_price",
            name="price_range_ordered",
        ),
        Index(
            "ix_saved_searches_digest_due",
            "digest_due_at",
            postgresql_where=text("digest_due_at IS NOT NULL"),
            sqlite_where=text("digest_due_at IS NOT NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str | None] = mapped_column(String(200))
    """The words, as `q` of `GET /v1/listings` takes them; null: none."""
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The query's words as the search reads them (lower case, letters and digits)."""
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        # The category's subtree is searched; a category can only be deleted once it has no
        # listings and no children, and the searches in it then go with it.
        ForeignKey("categories.id", ondelete="CASCADE"),
        index=True,
    )
    min_price: Mapped[int | None] = mapped_column(BigInteger)
    """Lowest unit price, minor units of the platform's currency; null: no bound."""
    max_price: Mapped[int | None] = mapped_column(BigInteger)
    """Highest unit price, minor units of the platform's currency; null: no bound."""
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Listing conditions, any of which matches; empty: any."""
    seller_id: Mapped[uuid.UUID | None]
    """Only this shop's listings (no foreign key: a closed shop's id just matches nothing)."""
    frequency: Mapped[AlertFrequency] = mapped_column(
        enum_column(AlertFrequency, "saved_search_frequency")
    )
    digest_due_at: Mapped[datetime | None]
    """When its next digest may go (a day after the last; a daily search's first is a day
    after it was saved); null: none (instant searches, except one just switched from daily,
    whose collected matches go in one last digest)."""


class SavedSearchKey(Base):
    """The index the worker finds candidate searches by, from a new listing (so it never runs
    each search over the catalogue): one key per search, its most selective filter — its
    longest word (`t:<word>`, matched by every prefix of the listing's words), else its
    category (`c:<id>`, matched by the listing's category and its ancestors), else its shop
    (`s:<id>`)."""

    __tablename__ = "saved_search_keys"
    __table_args__ = (Index("ix_saved_search_keys_key", "key", "saved_search_id"),)

    saved_search_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("saved_searches.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(120))


class SavedSearchMatch(IdMixin, Base):
    """A listing found for a saved search: once per search and listing. Instant searches
    are told at once (`notified_at` set); daily ones collect until their digest."""

    __tablename__ = "saved_search_matches"
    __table_args__ = (
        UniqueConstraint("saved_search_id", "listing_id"),
        Index(
            "ix_saved_search_matches_pending",
            "saved_search_id",
            "id",
            postgresql_where=text("notified_at IS NULL"),
            sqlite_where=text("notified_at IS NULL"),
        ),
        # The purge of told matches (`purge_told_matches`) finds them by age.
        Index("ix_saved_search_matches_notified_at", "notified_at"),
    )

    saved_search_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("saved_searches.id", ondelete="CASCADE")
    )
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    matched_at: Mapped[datetime] = mapped_column(default=now)
    notified_at: Mapped[datetime | None]


class WatchlistWatermark(Base):
    """How far a watchlists job has read the catalogue: the (time, listing id) of the last
    listing it handled, in the order it reads them."""

    __tablename__ = "watchlist_watermarks"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    position_at: Mapped[datetime]
    position_id: Mapped[uuid.UUID]
