"""Issue 19, what the platform charges and what discounts cost whom: `commission_rules`
(by category or shop); on `orders`, the discounts (shop- and platform-funded, with their
breakdown), the buyer protection fee and the terms its commission is reckoned by; on
`order_lines`, each line's discount and the commission percent and rule applied; two new
ledger accounts, `platform_fees` and `platform_promotions`.

Existing orders get no discount and no fee (zeros), and null commission terms, which the
application reads as the default settings on everything they sold for: what they were
charged before. `orders` and `order_lines` change in place (other tables refer to them);
the ledger tables' account CHECK is replaced, which SQLite does by rebuilding them (nothing
refers to their rows).

Revision ID: i19d_fees
Revises: i19c_promotions
Create Date: 2026-12-08 01:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i19d_fees"
down_revision: str | None = "i19c_promotions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNTS_BEFORE = (
    "external",
    "escrow",
    "seller_pending",
    "seller_available",
    "seller_reserved",
    "payouts_in_transit",
    "platform_commission",
)
ACCOUNTS = (*ACCOUNTS_BEFORE, "platform_fees", "platform_promotions")


def _zero(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "commission_rules",
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("seller_id", sa.Uuid(), nullable=True),
        sa.Column("percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("starts_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(category_id IS NULL) <> (seller_id IS NULL)",
            name=op.f("ck_commission_rules_one_scope"),
        ),
        sa.CheckConstraint(
            "percent >= 0 AND percent <= 100", name=op.f("ck_commission_rules_percent_range")
        ),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at",
            name=op.f("ck_commission_rules_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_commission_rules_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"],
            ["sellers.id"],
            name=op.f("fk_commission_rules_seller_id_sellers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_rules")),
    )
    op.create_index("ix_commission_rules_category_id", "commission_rules", ["category_id"])
    op.create_index("ix_commission_rules_seller_id", "commission_rules", ["seller_id"])
    with op.batch_alter_table("orders", recreate="never") as batch_op:
        batch_op.add_column(_zero("shop_discount_amount"))
        batch_op.add_column(_zero("platform_discount_amount"))
        batch_op.add_column(
            sa.Column("discounts", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(_zero("protection_fee_amount"))
        batch_op.add_column(sa.Column("commission_base", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("commission_weight", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("commission_fixed", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("order_lines", recreate="never") as batch_op:
        batch_op.add_column(_zero("discount_amount"))
        batch_op.add_column(_zero("shop_discount_amount"))
        batch_op.add_column(
            sa.Column("commission_percent", sa.Numeric(precision=5, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("commission_rule_id", sa.Uuid(), nullable=True))
    _set_accounts(ACCOUNTS)


def _set_accounts(accounts: Sequence[str]) -> None:
    """The ledger's account columns are VARCHARs with a CHECK of the Account names (see
    enum_column): new accounts are a new CHECK."""
    allowed = sa.text("account IN ({})".format(", ".join(f"'{a}'" for a in accounts)))
    for table in ("ledger_entries", "account_balances"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_ledger_account"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_{table}_ledger_account"), allowed)


def downgrade() -> None:
    # Entries on the new accounts belong to balanced transactions: dropping them would
    # unbalance the ledger, and the old CHECK cannot hold them. Refuse instead.
    used = op.get_bind().scalar(
        sa.text(
            "SELECT count(*) FROM ledger_entries "
            "WHERE account IN ('platform_fees', 'platform_promotions')"
        )
    )
    if used:
        raise RuntimeError(
            f"{used} ledger entries use platform_fees or platform_promotions: the ledger "
            "cannot go back to before them"
        )
    _set_accounts(ACCOUNTS_BEFORE)
    with op.batch_alter_table("order_lines", recreate="never") as batch_op:
        for column in (
            "commission_rule_id",
            "commission_percent",
            "shop_discount_amount",
            "discount_amount",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("orders", recreate="never") as batch_op:
        for column in (
            "commission_fixed",
            "commission_weight",
            "commission_base",
            "protection_fee_amount",
            "discounts",
            "platform_discount_amount",
            "shop_discount_amount",
        ):
            batch_op.drop_column(column)
    op.drop_index("ix_commission_rules_seller_id", table_name="commission_rules")
    op.drop_index("ix_commission_rules_category_id", table_name="commission_rules")
    op.drop_table("commission_rules")
