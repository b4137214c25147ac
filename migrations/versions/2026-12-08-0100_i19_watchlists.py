"""Issue 19, favourites and saved searches.

Favourites (with what their keeper last saw of the listing's price and stock), the listings'
favourite count, saved searches with the index key the worker finds them by, the matches found
for them, and the watchlists jobs' watermarks (started at the moment of migrating: listings
changed or published before then are not news).

Revision ID: i19a_watchlists
Revises: i18b_shipping_profiles
Create Date: 2026-12-08 01:00:00+00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i19a_watchlists"
down_revision: str | None = "i18b_shipping_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = app.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    watermarks = op.create_table(
        "watchlist_watermarks",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("position_at", _AT, nullable=False),
        sa.Column("position_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_watchlist_watermarks")),
    )
    started = datetime.now(UTC)
    op.bulk_insert(
        watermarks,
        [
            {"job": job, "position_at": started, "position_id": uuid.UUID(int=0)}
            for job in ("favourites", "saved_searches")
        ],
    )
    op.create_table(
        "saved_searches",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("min_price", sa.BigInteger(), nullable=True),
        sa.Column("max_price", sa.BigInteger(), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("seller_id", sa.Uuid(), nullable=True),
        sa.Column(
            "frequency",
            sa.Enum(
                "instant",
                "daily",
                name="saved_search_frequency",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("digest_due_at", _AT, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.CheckConstraint(
            "max_price IS NULL OR min_price IS NULL OR max_price >= min_price",
            name=op.f("ck_saved_searches_price_range_ordered"),
        ),
        sa.CheckConstraint(
            "min_price IS NULL OR min_price >= 0",
            name=op.f("ck_saved_searches_min_price_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_saved_searches_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_saved_searches_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    with op.batch_alter_table("saved_searches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saved_searches_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index(
            "ix_saved_searches_digest_due",
            ["digest_due_at"],
            unique=False,
            postgresql_where=sa.text("digest_due_at IS NOT NULL"),
            sqlite_where=sa.text("digest_due_at IS NOT NULL"),
        )
        batch_op.create_index("ix_saved_searches_user_id", ["user_id", "id"], unique=False)

    op.create_table(
        "saved_search_keys",
        sa.Column("saved_search_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["saved_search_id"],
            ["saved_searches.id"],
            name=op.f("fk_saved_search_keys_saved_search_id_saved_searches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("saved_search_id", name=op.f("pk_saved_search_keys")),
    )
    with op.batch_alter_table("saved_search_keys", schema=None) as batch_op:
        batch_op.create_index("ix_saved_search_keys_key", ["key", "saved_search_id"], unique=False)

    op.create_table(
        "favourites",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("price_at_favourite", sa.BigInteger(), nullable=False),
        sa.Column("price_seen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("in_stock_seen", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("price_seen > 0", name=op.f("ck_favourites_price_seen_positive")),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_favourites_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favourites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favourites")),
        sa.UniqueConstraint("user_id", "listing_id", name=op.f("uq_favourites_user_id_listing_id")),
    )
    with op.batch_alter_table("favourites", schema=None) as batch_op:
        batch_op.create_index("ix_favourites_listing_id", ["listing_id", "id"], unique=False)

    op.create_table(
        "saved_search_matches",
        sa.Column("saved_search_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("matched_at", _AT, nullable=False),
        sa.Column("notified_at", _AT, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_saved_search_matches_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_search_id"],
            ["saved_searches.id"],
            name=op.f("fk_saved_search_matches_saved_search_id_saved_searches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_search_matches")),
        sa.UniqueConstraint(
            "saved_search_id",
            "listing_id",
            name=op.f("uq_saved_search_matches_saved_search_id_listing_id"),
        ),
    )
    with op.batch_alter_table("saved_search_matches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_saved_search_matches_pending",
            ["saved_search_id", "id"],
            unique=False,
            postgresql_where=sa.text("notified_at IS NULL"),
            sqlite_where=sa.text("notified_at IS NULL"),
        )
        batch_op.create_index("ix_saved_search_matches_notified_at", ["notified_at"], unique=False)

    with op.batch_alter_table("listings", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("favourite_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index(
            "ix_listings_favourited_updated",
            ["updated_at", "id"],
            unique=False,
            postgresql_where=sa.text("favourite_count > 0"),
            sqlite_where=sa.text("favourite_count > 0"),
        )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(
            "ix_listings_favourited_updated",
            postgresql_where=sa.text("favourite_count > 0"),
            sqlite_where=sa.text("favourite_count > 0"),
        )
        batch_op.drop_column("favourite_count")
    op.drop_table("saved_search_matches")
    op.drop_table("favourites")
    op.drop_table("saved_search_keys")
    op.drop_table("saved_searches")
    op.drop_table("watchlist_watermarks")
