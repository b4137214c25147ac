"""Sellers, the category tree, listings (with full-text search on PostgreSQL), images and
reports; users.is_seller becomes users.seller_status.

Revision ID: 1402c8d57729
Revises: 5b99e42fd3a2
Create Date: 2026-11-27 06:12:16.486176+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "1402c8d57729"
down_revision: str | None = "5b99e42fd3a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["categories.id"],
            name=op.f("fk_categories_parent_id_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_categories_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "sellers",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("shop_name", sa.String(length=80), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column(
            "seller_type",
            sa.Enum(
                "individual",
                "business",
                name="seller_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("payout_account", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_review",
                "approved",
                "rejected",
                "suspended",
                name="seller_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("approved_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sellers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sellers")),
        sa.UniqueConstraint("slug", name=op.f("uq_sellers_slug")),
        sa.UniqueConstraint("user_id", name=op.f("uq_sellers_user_id")),
    )
    with op.batch_alter_table("sellers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sellers_status"), ["status"], unique=False)

    op.create_table(
        "listings",
        sa.Column("seller_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=140), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shipping_fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "condition",
            sa.Enum(
                "new",
                "like_new",
                "good",
                "fair",
                "for_parts",
                name="listing_condition",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("handling_days", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "pending_review",
                "active",
                "paused",
                "sold_out",
                "rejected",
                "archived",
                "removed",
                name="listing_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("seller_approved", sa.Boolean(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("held_while_paused", sa.Boolean(), nullable=False),
        sa.Column("published_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price_amount > 0", name=op.f("ck_listings_price_positive")),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_listings_quantity_not_negative")),
        sa.CheckConstraint(
            "shipping_fee_amount >= 0", name=op.f("ck_listings_shipping_fee_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_listings_category_id_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_listings_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Full-text search: a generated tsvector (title weighs more than description) and a
        # GIN index over live listings only, matching the search's fixed predicate.
        op.execute(
            "ALTER TABLE listings ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            " setweight(to_tsvector('english', coalesce(title, '')), 'A') ||"
            " setweight(to_tsvector('english', coalesce(description, '')), 'B') ||"
            # Unstemmed words too, so a typed prefix longer than a stem ("runn") still
            # matches ("running" is stemmed to "run").
            " setweight(to_tsvector('simple', coalesce(title, '') || ' ' ||"
            " coalesce(description, '')), 'D')) STORED"
        )
        op.execute(
            "CREATE INDEX ix_listings_search_vector ON listings USING gin (search_vector)"
            " WHERE status = 'active' AND seller_approved"
        )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_listings_live_category_price",
            ["category_id", "price_amount", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.create_index(
            "ix_listings_live_category_published",
            ["category_id", "published_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.create_index(
            "ix_listings_live_price",
            ["price_amount", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.create_index(
            "ix_listings_live_published",
            ["published_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.create_index(
            "ix_listings_live_seller_published",
            ["seller_id", "published_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.create_index(
            "ix_listings_reported",
            ["report_count", "id"],
            unique=False,
            postgresql_where=sa.text("report_count > 0"),
            sqlite_where=sa.text("report_count > 0"),
        )
        batch_op.create_index(
            "ix_listings_seller_status", ["seller_id", "status", "id"], unique=False
        )
        batch_op.create_index("ix_listings_status", ["status", "id"], unique=False)

    op.create_table(
        "listing_images",
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_listing_images_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_images")),
    )
    with op.batch_alter_table("listing_images", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listing_images_listing_id"), ["listing_id"], unique=False
        )

    op.create_table(
        "listing_reports",
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("reporter_id", sa.Uuid(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "counterfeit",
                "ip_infringement",
                "prohibited",
                "fraud",
                "other",
                name="report_reason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_listing_reports_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_listing_reports_reporter_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_reports")),
        sa.UniqueConstraint(
            "listing_id", "reporter_id", name=op.f("uq_listing_reports_listing_id_reporter_id")
        ),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seller_status", sa.String(length=32), nullable=True))
        batch_op.drop_column("is_seller")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_seller", sa.BOOLEAN(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_column("seller_status")

    op.drop_table("listing_reports")
    with op.batch_alter_table("listing_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listing_images_listing_id"))

    op.drop_table("listing_images")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_status")
        batch_op.drop_index("ix_listings_seller_status")
        batch_op.drop_index(
            "ix_listings_reported",
            postgresql_where=sa.text("report_count > 0"),
            sqlite_where=sa.text("report_count > 0"),
        )
        batch_op.drop_index(
            "ix_listings_live_seller_published",
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.drop_index(
            "ix_listings_live_published",
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.drop_index(
            "ix_listings_live_price",
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.drop_index(
            "ix_listings_live_category_published",
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )
        batch_op.drop_index(
            "ix_listings_live_category_price",
            postgresql_where=sa.text("status = 'active' AND seller_approved"),
            sqlite_where=sa.text("status = 'active' AND seller_approved"),
        )

    op.drop_table("listings")
    with op.batch_alter_table("sellers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sellers_status"))

    op.drop_table("sellers")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_categories_parent_id"))

    op.drop_table("categories")
