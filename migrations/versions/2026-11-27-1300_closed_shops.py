"""A shop closes for good when its owner deletes their account: sellers.status gains `closed`
(a VARCHAR with a CHECK of the states, see enum_column, so a new state is a new CHECK).

Revision ID: 5e2a8c4f7b13
Revises: c860435ed90a
Create Date: 2026-11-27 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e2a8c4f7b13"
down_revision: str | None = "c860435ed90a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES_BEFORE = ("pending_review", "approved", "rejected", "suspended")


def upgrade() -> None:
    _set_states((*STATES_BEFORE, "closed"))


def downgrade() -> None:
    op.execute("UPDATE sellers SET status = 'suspended' WHERE status = 'closed'")
    _set_states(STATES_BEFORE)


def _set_states(states: Sequence[str]) -> None:
    allowed = ", ".join(f"'{state}'" for state in states)
    with op.batch_alter_table("sellers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sellers_seller_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_sellers_seller_status"), sa.text(f"status IN ({allowed})")
        )
