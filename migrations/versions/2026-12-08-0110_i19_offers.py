"""Issue 19, offers.

Revision ID: i19b_offers
Revises: i19a_watchlists
Create Date: 2026-12-08 01:10:00+00:00
"""

from collections.abc import Sequence

revision: str = "i19b_offers"
down_revision: str | None = "i19a_watchlists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
