"""Issue 15, messaging: notifications a screen can show and open, and reports that end.

`notifications` gains `body` (the sentence under the title) and a deep link,
`resource_type` + `resource_id`. Rows written before get the title as their body, and the
link their event's data names (`order.*` → its `order_id`, `return.*` → `return_id`, …).

`listing_reports` gains its outcome: `status` (`open`, `dismissed`, `upheld`), when and by
whom it was decided, and the admin's words. Reports of listings already removed are
`upheld` (that was the decision), the rest `open`.

Revision ID: i15d_messaging
Revises: i15c_catalog
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i15d_messaging"
down_revision: str | None = "i15c_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESOURCE_TYPES = (
    "order",
    "return",
    "dispute",
    "review",
    "payout",
    "listing",
    "conversation",
    "api_key",
    "webhook_endpoint",
)
# An old notification's event type prefix → (resource type, the key of its id in `data`).
_LINKS = {
    "order": ("order", "order_id"),
    "return": ("return", "return_id"),
    "dispute": ("dispute", "dispute_id"),
    "review": ("review", "review_id"),
    "payout": ("payout", "payout_id"),
    "listing": ("listing", "listing_id"),
    "message": ("conversation", "conversation_id"),
    "api_key": ("api_key", "api_key_id"),
    "webhook_endpoint": ("webhook_endpoint", "endpoint_id"),
}
_BATCH = 1000


def _backfill_notifications() -> None:
    """Body = title; the link from the data. Row by row through SQLAlchemy, so that the JSON
    and the ids are read and written the same way on SQLite and PostgreSQL."""
    import uuid

    bind = op.get_bind()
    notifications = sa.table(
        "notifications",
        sa.column("id", sa.Uuid()),
        sa.column("type", sa.String()),
        sa.column("title", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("body", sa.String()),
        sa.column("resource_type", sa.String()),
        sa.column("resource_id", sa.Uuid()),
    )
    op.execute(notifications.update().values(body=notifications.c.title))
    last: uuid.UUID | None = None
    while True:
        statement = (
            sa.select(notifications.c.id, notifications.c.type, notifications.c.data)
            .order_by(notifications.c.id)
            .limit(_BATCH)
        )
        if last is not None:
            statement = statement.where(notifications.c.id > last)
        rows = bind.execute(statement).all()
        if not rows:
            return
        for notification_id, type_, data in rows:
            link = _LINKS.get(str(type_).split(".")[0])
            value = (data or {}).get(link[1]) if link else None
            try:
                resource_id = uuid.UUID(value) if isinstance(value, str) else None
            except ValueError:
                resource_id = None
            if link and resource_id is not None:
                bind.execute(
                    notifications.update()
                    .where(notifications.c.id == notification_id)
                    .values(resource_type=link[0], resource_id=resource_id)
                )
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("body", sa.String(length=500), nullable=True))
        batch.add_column(
            sa.Column(
                "resource_type",
                sa.Enum(
                    *_RESOURCE_TYPES,
                    name="notification_resource_type",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("resource_id", sa.Uuid(), nullable=True))
    _backfill_notifications()
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("body", existing_type=sa.String(length=500), nullable=False)

    with op.batch_alter_table("listing_reports") as batch:
        batch.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "open",
                    "dismissed",
                    "upheld",
                    name="report_status",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=False,
                server_default="open",
            )
        )
        batch.add_column(
            sa.Column("resolved_at", app.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("resolved_by_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("resolution_reason", sa.Text(), nullable=True))
        batch.create_index(
            "ix_listing_reports_listing_status", ["listing_id", "status"], unique=False
        )
    op.execute(
        "UPDATE listing_reports SET status = 'upheld' WHERE listing_id IN "
        "(SELECT id FROM listings WHERE status = 'removed')"
    )
    with op.batch_alter_table("listing_reports") as batch:
        batch.alter_column("status", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("listing_reports") as batch:
        batch.drop_constraint(op.f("ck_listing_reports_report_status"), type_="check")
        batch.drop_index("ix_listing_reports_listing_status")
        batch.drop_column("resolution_reason")
        batch.drop_column("resolved_by_id")
        batch.drop_column("resolved_at")
        batch.drop_column("status")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_notification_resource_type"), type_="check")
        batch.drop_column("resource_id")
        batch.drop_column("resource_type")
        batch.drop_column("body")
