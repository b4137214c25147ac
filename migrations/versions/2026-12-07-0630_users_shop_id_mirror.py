"""The shop of a user, mirrored on the user (issue 14).

`users.shop_id` is kept in step by the sellers service, as `users.seller_status` already is,
so that the caller's principal (user, shop, admin, key scopes) is built from the one row
every authenticated request reads anyway: no extra query per request for "which shop is
this". No foreign key: `sellers.user_id` already points the other way, and shops
are never deleted (a deleted account's shop is `closed`).

Revision ID: 4b1f0c9d2e7a
Revises: 89e308fe7d53
Create Date: 2026-12-07 06:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b1f0c9d2e7a"
down_revision: str | None = "89e308fe7d53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("shop_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE users SET shop_id = "
        "(SELECT sellers.id FROM sellers WHERE sellers.user_id = users.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("shop_id")
