"""Issue 18, shipping profiles and combined shipping: a shop's `shipping_profiles`, each with
its `shipping_rates` per destination (first item, each additional item, free over an amount);
on `listings`, the profile that charges a listing's shipping; on `orders`, how their shipping
was reckoned (`shipping_breakdown`).

Existing listings get no profile, so they keep charging their flat fee per order line as
before; existing orders get an empty breakdown (their lines paid flat fees, which no profile
reckoned).

`listings` and `orders` change in place: on SQLite a batch that rebuilt either table would
fail on, or cascade from, the rows that refer to it (cart items, order lines, shipments).
SQLite adds a foreign key only within the definition of the column it comes with, so there the
new column of `listings` is added by hand, its named constraint inline (with no ON DELETE
action: SQLite's schema reflection would not read one back from an inline constraint, and the
application lets go of a profile before deleting it); dropping such a column drops its
constraint with it.

Revision ID: i18b_shipping_profiles
Revises: i18a_logistics
Create Date: 2026-12-07 23:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i18b_shipping_profiles"
down_revision: str | None = "i18a_logistics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFILE_FOREIGN_KEY = "fk_listings_shipping_profile_id_shipping_profiles"


def upgrade() -> None:
    op.create_table(
        "shipping_profiles",
        sa.Column("seller_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_shipping_profiles_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_profiles")),
        sa.UniqueConstraint("seller_id", "name", name=op.f("uq_shipping_profiles_seller_id_name")),
    )
    op.create_table(
        "shipping_rates",
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("destinations", sa.JSON(), nullable=False),
        sa.Column("first_item_amount", sa.BigInteger(), nullable=False),
        sa.Column("additional_item_amount", sa.BigInteger(), nullable=False),
        sa.Column("free_over_amount", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "additional_item_amount >= 0",
            name=op.f("ck_shipping_rates_additional_item_not_negative"),
        ),
        sa.CheckConstraint(
            "first_item_amount >= 0", name=op.f("ck_shipping_rates_first_item_not_negative")
        ),
        sa.CheckConstraint(
            "free_over_amount IS NULL OR free_over_amount > 0",
            name=op.f("ck_shipping_rates_free_over_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["shipping_profiles.id"],
            name=op.f("fk_shipping_rates_profile_id_shipping_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_rates")),
    )
    with op.batch_alter_table("shipping_rates", schema=None) as batch_op:
        batch_op.create_index("ix_shipping_rates_profile", ["profile_id", "id"], unique=False)

    _add_listing_profile()
    with op.batch_alter_table("listings", recreate="never") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listings_shipping_profile_id"), ["shipping_profile_id"], unique=False
        )

    with op.batch_alter_table("orders", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("shipping_breakdown", sa.JSON(), nullable=False, server_default="[]")
        )


def _add_listing_profile() -> None:
    column = sa.Column("shipping_profile_id", sa.Uuid(), nullable=True)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        definition = sa.schema.CreateColumn(column).compile(dialect=bind.dialect)
        op.execute(
            f"ALTER TABLE listings ADD COLUMN {definition} CONSTRAINT {PROFILE_FOREIGN_KEY} "
            "REFERENCES shipping_profiles (id)"
        )
        return
    with op.batch_alter_table("listings", recreate="never") as batch_op:
        batch_op.add_column(column)
        batch_op.create_foreign_key(
            PROFILE_FOREIGN_KEY,
            "shipping_profiles",
            ["shipping_profile_id"],
            ["id"],
        )


def downgrade() -> None:
    # Never rebuilt (see upgrade): SQLite 3.35+ drops columns in place, the one of `listings`
    # with its inline constraint.
    with op.batch_alter_table("orders", recreate="never") as batch_op:
        batch_op.drop_column("shipping_breakdown")

    with op.batch_alter_table("listings", recreate="never") as batch_op:
        if op.get_bind().dialect.name != "sqlite":
            batch_op.drop_constraint(PROFILE_FOREIGN_KEY, type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_listings_shipping_profile_id"))
        batch_op.drop_column("shipping_profile_id")

    with op.batch_alter_table("shipping_rates", schema=None) as batch_op:
        batch_op.drop_index("ix_shipping_rates_profile")

    op.drop_table("shipping_rates")
    op.drop_table("shipping_profiles")
