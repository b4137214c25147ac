"""Search index without a pending list: GIN's fastupdate defers new entries to a list that
every search then scans linearly until vacuum merges it; listings are read far more often
than written, so entries go straight into the index.

Revision ID: 6a0c1e2f9b31
Revises: 4239174df2e4
Create Date: 2026-11-27 09:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6a0c1e2f9b31"
down_revision: str | None = "4239174df2e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_listings_search_vector SET (fastupdate = off)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_listings_search_vector RESET (fastupdate)")
