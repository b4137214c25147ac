"""Cart, checkouts, orders with lines and events, the double-entry ledger, the sandbox
provider's book and payouts.

Revision ID: 4239174df2e4
Revises: 1402c8d57729
Create Date: 2026-11-27 06:19:45.161377+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "4239174df2e4"
down_revision: str | None = "1402c8d57729"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_transactions",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("payout_id", sa.Uuid(), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
    )
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_transactions_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transactions_payout_id"), ["payout_id"], unique=False
        )

    op.create_table(
        "provider_operations",
        sa.Column(
            "kind",
            sa.Enum(
                "capture",
                "refund",
                "payout",
                name="provider_operation_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_operations")),
        sa.UniqueConstraint("reference", name=op.f("uq_provider_operations_reference")),
    )
    op.create_table(
        "checkouts",
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_payment",
                "paid",
                "cancelled",
                name="checkout_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["users.id"], name=op.f("fk_checkouts_buyer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkouts")),
    )
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkouts_buyer_id"), ["buyer_id"], unique=False)
        batch_op.create_index(
            "ix_checkouts_status_expires_at", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column(
            "account",
            sa.Enum(
                "external",
                "escrow",
                "seller_pending",
                "seller_available",
                "payouts_in_transit",
                "platform_commission",
                name="ledger_account",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entries_account_order", ["account", "order_id"], unique=False
        )
        batch_op.create_index(
            "ix_ledger_entries_owner_account", ["owner_id", "account", "currency"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "orders",
        sa.Column("checkout_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("seller_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_payment",
                "paid",
                "shipped",
                "completed",
                "cancelled",
                "disputed",
                "refunded",
                "partially_refunded",
                name="order_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("items_amount", sa.BigInteger(), nullable=False),
        sa.Column("shipping_amount", sa.BigInteger(), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("paid_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ship_by", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("auto_complete_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("funds_release_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_orders_buyer_id_users")),
        sa.ForeignKeyConstraint(
            ["checkout_id"], ["checkouts.id"], name=op.f("fk_orders_checkout_id_checkouts")
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_orders_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_buyer", ["buyer_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_checkout_id"), ["checkout_id"], unique=False)
        batch_op.create_index("ix_orders_funds_release_at", ["funds_release_at"], unique=False)
        batch_op.create_index("ix_orders_seller", ["seller_id", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_status_auto_complete_at", ["status", "auto_complete_at"], unique=False
        )

    op.create_table(
        "payouts",
        sa.Column("seller_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "paid",
                "failed",
                name="payout_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_payouts_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payouts_seller_id"), ["seller_id"], unique=False)
        batch_op.create_index("ix_payouts_status_id", ["status", "id"], unique=False)

    op.create_table(
        "cart_items",
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_cart_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["users.id"],
            name=op.f("fk_cart_items_buyer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_cart_items_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_items")),
        sa.UniqueConstraint(
            "buyer_id", "listing_id", name=op.f("uq_cart_items_buyer_id_listing_id")
        ),
    )
    op.create_table(
        "order_events",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id"), ["order_id"], unique=False)

    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=140), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("shipping_fee", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_order_lines_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_lines_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_lines_order_id"))

    op.drop_table("order_lines")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id"))

    op.drop_table("order_events")
    op.drop_table("cart_items")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_status_id")
        batch_op.drop_index(batch_op.f("ix_payouts_seller_id"))

    op.drop_table("payouts")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_auto_complete_at")
        batch_op.drop_index("ix_orders_seller")
        batch_op.drop_index("ix_orders_funds_release_at")
        batch_op.drop_index(batch_op.f("ix_orders_checkout_id"))
        batch_op.drop_index("ix_orders_buyer")

    op.drop_table("orders")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_transaction_id"))
        batch_op.drop_index("ix_ledger_entries_owner_account")
        batch_op.drop_index("ix_ledger_entries_account_order")

    op.drop_table("ledger_entries")
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.drop_index("ix_checkouts_status_expires_at")
        batch_op.drop_index(batch_op.f("ix_checkouts_buyer_id"))

    op.drop_table("checkouts")
    op.drop_table("provider_operations")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transactions_payout_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transactions_order_id"))

    op.drop_table("ledger_transactions")
