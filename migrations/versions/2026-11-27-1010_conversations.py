"""Buyer-seller conversations about a listing or an order, and their messages.

Revision ID: 1b8f4d6e0c32
Revises: 0a7e3c5d9b21
Create Date: 2026-11-27 10:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "1b8f4d6e0c32"
down_revision: str | None = "0a7e3c5d9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("seller_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_message_preview", sa.String(length=120), nullable=False),
        sa.Column("buyer_read_up_to", sa.Uuid(), nullable=True),
        sa.Column("seller_read_up_to", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(listing_id IS NULL) <> (order_id IS NULL)",
            name=op.f("ck_conversations_about_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["users.id"], name=op.f("fk_conversations_buyer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_conversations_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_conversations_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_conversations_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "buyer_id", "listing_id", name=op.f("uq_conversations_buyer_id_listing_id")
        ),
        sa.UniqueConstraint("order_id", name=op.f("uq_conversations_order_id")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_buyer_activity", ["buyer_id", "last_message_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_conversations_seller_activity",
            ["seller_id", "last_message_at", "id"],
            unique=False,
        )

    op.create_table(
        "conversation_messages",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column(
            "sender_role",
            sa.Enum(
                "buyer",
                "seller",
                name="conversation_side",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_messages_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name=op.f("fk_conversation_messages_sender_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
    )
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_messages_conversation", ["conversation_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_conversation_messages_sender_created", ["sender_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_messages_sender_created")
        batch_op.drop_index("ix_conversation_messages_conversation")

    op.drop_table("conversation_messages")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_seller_activity")
        batch_op.drop_index("ix_conversations_buyer_activity")

    op.drop_table("conversations")
