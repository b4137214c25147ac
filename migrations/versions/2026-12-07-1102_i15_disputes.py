"""Issue 15, disputes: what a screen needs (placeholder until this part adds its columns).

Revision ID: i15b_disputes
Revises: i15a_orders
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "i15b_disputes"
down_revision: str | None = "i15a_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
