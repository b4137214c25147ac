"""Issue 19, coupons and promotions.

Revision ID: i19c_promotions
Revises: i19b_offers
Create Date: 2026-12-08 01:20:00+00:00
"""

from collections.abc import Sequence

revision: str = "i19c_promotions"
down_revision: str | None = "i19b_offers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
