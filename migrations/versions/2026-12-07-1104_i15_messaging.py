"""Issue 15, messaging: what a screen needs (placeholder until this part adds its columns).

Revision ID: i15d_messaging
Revises: i15c_catalog
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "i15d_messaging"
down_revision: str | None = "i15c_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
