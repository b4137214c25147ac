"""Issue 19, coupons and promotions: `promotions` (platform- or shop-funded, percent, fixed or
threshold tiers, with a code or automatic, with their redemption counter), `promotion_usages`
(each buyer's count of one) and `promotion_redemptions` (the share of a discount each order
of a checkout carries, so that a cancelled order can give its use back).

Revision ID: i19c_promotions
Revises: i19b_offers
Create Date: 2026-12-08 01:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i19c_promotions"
down_revision: str | None = "i19b_offers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "percent",
                "fixed",
                "threshold",
                name="promotion_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "funded_by",
            sa.Enum(
                "platform",
                "shop",
                name="promotion_funded_by",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("seller_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("max_discount_amount", sa.BigInteger(), nullable=True),
        sa.Column("fixed_amount", sa.BigInteger(), nullable=True),
        sa.Column("tiers", sa.JSON(), nullable=True),
        sa.Column("min_order_amount", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("max_per_buyer", sa.Integer(), nullable=True),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("seller_ids", sa.JSON(), nullable=False),
        sa.Column("category_ids", sa.JSON(), nullable=False),
        sa.Column("listing_ids", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(funded_by = 'shop') = (seller_id IS NOT NULL)",
            name=op.f("ck_promotions_shop_funded_has_seller"),
        ),
        sa.CheckConstraint(
            "max_redemptions IS NULL OR redemptions <= max_redemptions",
            name=op.f("ck_promotions_redemptions_within_limit"),
        ),
        sa.CheckConstraint(
            "min_order_amount >= 0", name=op.f("ck_promotions_min_order_not_negative")
        ),
        sa.CheckConstraint(
            "percent IS NULL OR percent BETWEEN 1 AND 100", name=op.f("ck_promotions_percent_range")
        ),
        sa.CheckConstraint("redemptions >= 0", name=op.f("ck_promotions_redemptions_not_negative")),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_promotions_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
        sa.UniqueConstraint("code", name=op.f("uq_promotions_code")),
    )
    op.create_index("ix_promotions_seller_id", "promotions", ["seller_id", "id"], unique=False)

    op.create_table(
        "promotion_redemptions",
        sa.Column("promotion_id", sa.Uuid(), nullable=False),
        sa.Column("checkout_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_promotion_redemptions_amount_positive")),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["users.id"],
            name=op.f("fk_promotion_redemptions_buyer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["checkout_id"],
            ["checkouts.id"],
            name=op.f("fk_promotion_redemptions_checkout_id_checkouts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_promotion_redemptions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_redemptions_promotion_id_promotions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_redemptions")),
        sa.UniqueConstraint(
            "promotion_id",
            "order_id",
            name=op.f("uq_promotion_redemptions_promotion_id_order_id"),
        ),
    )
    op.create_index(
        op.f("ix_promotion_redemptions_order_id"),
        "promotion_redemptions",
        ["order_id"],
        unique=False,
    )
    op.create_index(
        "ix_promotion_redemptions_promotion_checkout",
        "promotion_redemptions",
        ["promotion_id", "checkout_id"],
        unique=False,
    )

    op.create_table(
        "promotion_usages",
        sa.Column("promotion_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.CheckConstraint("uses >= 0", name=op.f("ck_promotion_usages_uses_not_negative")),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["users.id"],
            name=op.f("fk_promotion_usages_buyer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_usages_promotion_id_promotions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("promotion_id", "buyer_id", name=op.f("pk_promotion_usages")),
    )
    op.create_index(
        op.f("ix_promotion_usages_buyer_id"), "promotion_usages", ["buyer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_promotion_usages_buyer_id"), table_name="promotion_usages")
    op.drop_table("promotion_usages")
    op.drop_index("ix_promotion_redemptions_promotion_checkout", table_name="promotion_redemptions")
    op.drop_index(op.f("ix_promotion_redemptions_order_id"), table_name="promotion_redemptions")
    op.drop_table("promotion_redemptions")
    op.drop_index("ix_promotions_seller_id", table_name="promotions")
    op.drop_table("promotions")
