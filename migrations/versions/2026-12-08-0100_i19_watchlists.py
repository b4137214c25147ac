"""Issue 19, favourites and saved searches.

Revision ID: i19a_watchlists
Revises: i18b_shipping_profiles
Create Date: 2026-12-08 01:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "i19a_watchlists"
down_revision: str | None = "i18b_shipping_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
