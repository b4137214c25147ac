"""Issue 19, offers: the `offers` and `offer_rounds` tables; on `listings`, whether a
listing takes offers and its floor; on `conversation_messages`, the message's kind (`text`,
or `offer`: a step of the offer `offer_id`).

Revision ID: i19b_offers
Revises: i19a_watchlists
Create Date: 2026-12-08 01:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i19b_offers"
down_revision: str | None = "i19a_watchlists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status IN ('pending_seller', 'pending_buyer', 'accepted')")
_AT = app.core.models.UTCDateTime(timezone=True)


def _party(name: str) -> sa.Column[str]:
    return sa.Column(
        name,
        sa.Enum(
            "buyer",
            "seller",
            name="offer_party",
            native_enum=False,
            create_constraint=True,
            length=32,
        ),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("seller_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_seller",
                "pending_buyer",
                "accepted",
                "declined",
                "expired",
                "withdrawn",
                "purchased",
                name="offer_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        _party("proposed_by"),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("accepted_at", _AT, nullable=True),
        sa.Column("pay_by", _AT, nullable=True),
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("checkout_id", sa.Uuid(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_offers_amount_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_offers_quantity_positive")),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_offers_buyer_id_users")),
        sa.ForeignKeyConstraint(
            ["checkout_id"], ["checkouts.id"], name=op.f("fk_offers_checkout_id_checkouts")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_offers_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_offers_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_offers_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index("ix_offers_buyer", ["buyer_id", "id"], unique=False)
        batch_op.create_index("ix_offers_seller", ["seller_id", "id"], unique=False)
        batch_op.create_index(
            "ix_offers_open_expires",
            ["expires_at"],
            unique=False,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        )
        batch_op.create_index(
            "ux_offers_open_buyer_listing",
            ["buyer_id", "listing_id"],
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        )

    op.create_table(
        "offer_rounds",
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        _party("by"),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_offer_rounds_amount_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_offer_rounds_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_offer_rounds_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_rounds")),
    )
    with op.batch_alter_table("offer_rounds", schema=None) as batch_op:
        batch_op.create_index("ix_offer_rounds_offer", ["offer_id", "id"], unique=False)

    # In place (no table rebuild on SQLite: rows refer to both tables). SQLite cannot add a
    # CHECK to an existing table, so the message kind's is PostgreSQL's only there.
    with op.batch_alter_table("conversation_messages", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=32), server_default="text", nullable=False)
        )
        batch_op.add_column(sa.Column("offer_id", sa.Uuid(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(
            op.f("ck_conversation_messages_message_kind"),
            "conversation_messages",
            sa.text("kind IN ('text', 'offer')"),
        )
    with op.batch_alter_table("listings", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("accepts_offers", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("offer_floor_amount", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listings", recreate="never") as batch_op:
        batch_op.drop_column("offer_floor_amount")
        batch_op.drop_column("accepts_offers")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            op.f("ck_conversation_messages_message_kind"), "conversation_messages", type_="check"
        )
    with op.batch_alter_table("conversation_messages", recreate="never") as batch_op:
        batch_op.drop_column("offer_id")
        batch_op.drop_column("kind")

    op.drop_index("ix_offer_rounds_offer", table_name="offer_rounds")
    op.drop_table("offer_rounds")
    op.drop_index("ux_offers_open_buyer_listing", table_name="offers")
    op.drop_index("ix_offers_open_expires", table_name="offers")
    op.drop_index("ix_offers_seller", table_name="offers")
    op.drop_index("ix_offers_buyer", table_name="offers")
    op.drop_table("offers")
