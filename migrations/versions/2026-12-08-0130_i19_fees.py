"""Issue 19, commission rules, the buyer protection fee, discounts on orders.

Revision ID: i19d_fees
Revises: i19c_promotions
Create Date: 2026-12-08 01:30:00+00:00
"""

from collections.abc import Sequence

revision: str = "i19d_fees"
down_revision: str | None = "i19c_promotions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
