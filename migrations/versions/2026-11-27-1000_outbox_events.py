"""Outbox of domain events: written in the same transaction as the change they describe.

Revision ID: 0a7e3c5d9b21
Revises: bf7975e70be2
Create Date: 2026-11-27 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "0a7e3c5d9b21"
down_revision: str | None = "bf7975e70be2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("seller_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("occurred_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    op.create_index(op.f("ix_outbox_events_occurred_at"), "outbox_events", ["occurred_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_events_occurred_at"), table_name="outbox_events")
    op.drop_table("outbox_events")
