"""Issue 16, balances in constant time: `account_balances`, the running balance of each seller
account (owner, account, currency), kept by every posting from now on and filled here from the
entries posted so far.

Revision ID: i16b_balances
Revises: i15d_messaging
Create Date: 2026-12-07 14:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i16b_balances"
down_revision: str | None = "i15d_messaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_ACCOUNTS = (
    "external",
    "escrow",
    "seller_pending",
    "seller_available",
    "seller_reserved",
    "payouts_in_transit",
    "platform_commission",
)


def upgrade() -> None:
    op.create_table(
        "account_balances",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column(
            "account",
            sa.Enum(
                *LEDGER_ACCOUNTS,
                name="ledger_account",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "owner_id", "account", "currency", name=op.f("pk_account_balances")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # A posting committed after the backfill's snapshot would be missing from its sums:
        # entries wait until the balances are in place (the migration's transaction).
        op.execute("LOCK TABLE ledger_entries IN SHARE MODE")
    op.execute(
        "INSERT INTO account_balances (owner_id, account, currency, balance) "
        "SELECT owner_id, account, currency, SUM(amount) FROM ledger_entries "
        "WHERE owner_id IS NOT NULL GROUP BY owner_id, account, currency"
    )


def downgrade() -> None:
    op.drop_table("account_balances")
