"""Issue 15, orders: what a screen needs (placeholder until this part adds its columns).

Revision ID: i15a_orders
Revises: 4b1f0c9d2e7a
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "i15a_orders"
down_revision: str | None = "4b1f0c9d2e7a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
