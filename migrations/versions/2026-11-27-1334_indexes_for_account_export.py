"""Indexes for the account export: it finds a person's reviews, dispute messages, evidence and
listing reports by their author, uploader or reporter, which nothing else looked them up by.

Revision ID: 6564f503b6a8
Revises: 5e2a8c4f7b13
Create Date: 2026-11-27 13:34:01.958583+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6564f503b6a8"
down_revision: str | None = "5e2a8c4f7b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column): one index each, named as the models' `index=True` names it.
PERSON_COLUMNS = (
    ("dispute_evidence", "uploader_id"),
    ("dispute_messages", "author_id"),
    ("listing_reports", "reporter_id"),
    ("reviews", "author_id"),
)


def upgrade() -> None:
    for table, column in PERSON_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(PERSON_COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
