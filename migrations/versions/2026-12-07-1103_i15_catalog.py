"""Issue 15, catalog: what a screen needs of listing images, and drafts without a date.

- `listing_images` gains `alt_text` (empty until the seller describes the image), the
  original's `width`/`height` as displayed, and the keys of its derived sizes
  (`thumbnail_key`, `medium_key`); images uploaded before have none (null: the original
  stands in for them).
- `listings.published_at` becomes nullable: it is when a listing last went live, so a draft
  has none. Drafts get null (a draft was never live); other states keep theirs.

Revision ID: i15c_catalog
Revises: i15b_disputes
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i15c_catalog"
down_revision: str | None = "i15b_disputes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("listing_images") as batch:
        batch.add_column(sa.Column("alt_text", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("width", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("height", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("thumbnail_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("medium_key", sa.String(255), nullable=True))
    with op.batch_alter_table("listings") as batch:
        batch.alter_column("published_at", existing_type=sa.DateTime(timezone=True), nullable=True)
    op.execute("UPDATE listings SET published_at = NULL WHERE status = 'draft'")


def downgrade() -> None:
    op.execute("UPDATE listings SET published_at = created_at WHERE published_at IS NULL")
    with op.batch_alter_table("listings") as batch:
        batch.alter_column("published_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    with op.batch_alter_table("listing_images") as batch:
        batch.drop_column("medium_key")
        batch.drop_column("thumbnail_key")
        batch.drop_column("height")
        batch.drop_column("width")
        batch.drop_column("alt_text")
