"""Issue 15, orders: a checkout that was not paid in time is `expired`, no longer `cancelled`
(checkouts.status is a VARCHAR with a CHECK of the states, see enum_column, so a new state
is a new CHECK). Past checkouts the worker expired are told apart from those the buyer
cancelled by their orders' timeline: the worker's `expire` step is recorded on each order
it cancels, and a buyer's cancellation never writes it.

Revision ID: i15a_orders
Revises: 4b1f0c9d2e7a
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i15a_orders"
down_revision: str | None = "4b1f0c9d2e7a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES_BEFORE = ("pending_payment", "paid", "cancelled")

MARK_EXPIRED = (
    "UPDATE checkouts SET status = 'expired' WHERE status = 'cancelled' AND EXISTS ("
    " SELECT 1 FROM orders JOIN order_events ON order_events.order_id = orders.id"
    " WHERE orders.checkout_id = checkouts.id AND order_events.subject = 'order'"
    " AND order_events.action = 'expire')"
)
"""The checkouts the worker cancelled for want of payment become `expired`."""


def upgrade() -> None:
    _set_states((*STATES_BEFORE, "expired"))
    op.execute(MARK_EXPIRED)


def downgrade() -> None:
    op.execute("UPDATE checkouts SET status = 'cancelled' WHERE status = 'expired'")
    _set_states(STATES_BEFORE)


def _set_states(states: Sequence[str]) -> None:
    allowed = ", ".join(f"'{state}'" for state in states)
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_checkouts_checkout_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_checkouts_checkout_status"), sa.text(f"status IN ({allowed})")
        )
