"""Issue 15, catalog: what a screen needs (placeholder until this part adds its columns).

Revision ID: i15c_catalog
Revises: i15b_disputes
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "i15c_catalog"
down_revision: str | None = "i15b_disputes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
