"""Issue 15, disputes: who uploaded each piece of evidence, and refunds as Money in the
timeline.

`dispute_evidence.uploader_role` (buyer, seller or admin) is what a dispute screen labels a
file with. Existing files get it from who uploaded them: the dispute's buyer, else its
shop's owner, else (an admin) `admin`.

The timeline details of returns and disputes, and the order's own step that refunds a
received return (`refund_return`), carried their `refund` as a bare integer (minor units);
they now carry Money, `{"amount", "currency"}` in the order's currency. Old rows are
rewritten row by row in Python (portable between SQLite's JSON text and PostgreSQL's json),
and back on downgrade.

Revision ID: i15b_disputes
Revises: i15a_orders
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "i15b_disputes"
down_revision: str | None = "i15a_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The timeline subjects whose steps record a refund (app.orders.models.EventSubject's values):
# the order's own only in its `refund_return` step.
_SUBJECTS = ("return", "dispute", "order")

_events = sa.table(
    "order_events",
    sa.column("id", sa.Uuid()),
    sa.column("order_id", sa.Uuid()),
    sa.column("subject", sa.String()),
    sa.column("details", sa.JSON()),
)
_orders = sa.table("orders", sa.column("id", sa.Uuid()), sa.column("currency", sa.String()))


def _rewrite_refunds(change: Callable[[Any, str], Any]) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_events.c.id, _events.c.details, _orders.c.currency)
        .join(_orders, _orders.c.id == _events.c.order_id)
        .where(_events.c.subject.in_(_SUBJECTS))
    ).all()
    for event_id, details, currency in rows:
        if not isinstance(details, dict) or "refund" not in details:
            continue
        changed = change(details["refund"], currency)
        if changed is details["refund"]:
            continue
        bind.execute(
            sa.update(_events)
            .where(_events.c.id == event_id)
            .values(details={**details, "refund": changed})
        )


def _to_money(value: Any, currency: str) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"amount": value, "currency": currency}
    return value


def _to_integer(value: Any, _currency: str) -> Any:
    if isinstance(value, dict) and isinstance(value.get("amount"), int):
        return value["amount"]
    return value


def upgrade() -> None:
    with op.batch_alter_table("dispute_evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uploader_role", sa.String(length=16), nullable=True))
    op.execute(
        """
        UPDATE dispute_evidence SET uploader_role = CASE
            WHEN uploader_id = (
                SELECT d.buyer_id FROM disputes d WHERE d.id = dispute_evidence.dispute_id
            ) THEN 'buyer'
            WHEN uploader_id = (
                SELECT s.user_id FROM disputes d JOIN sellers s ON s.id = d.seller_id
                WHERE d.id = dispute_evidence.dispute_id
            ) THEN 'seller'
            ELSE 'admin'
        END
        """
    )
    with op.batch_alter_table("dispute_evidence", schema=None) as batch_op:
        batch_op.alter_column("uploader_role", existing_type=sa.String(length=16), nullable=False)
    _rewrite_refunds(_to_money)


def downgrade() -> None:
    _rewrite_refunds(_to_integer)
    with op.batch_alter_table("dispute_evidence", schema=None) as batch_op:
        batch_op.drop_column("uploader_role")
