"""Sessions that end access tokens at once, and API keys that always expire (issue 13).

`auth_sessions`: one row per login (its id is the refresh-token family id); access tokens
name it in their `sid` claim and are refused once it is revoked. Every existing refresh-token
family becomes a session (revoked when all its tokens are), so that a signed-in client keeps
its session through the upgrade: its old access token (without `sid`) is refused with 401,
and its next refresh issues one that names the session.

`api_keys.expires_at` becomes required. Keys made without an expiry get the new default:
90 days from the upgrade, announced to nobody, so operators should tell their sellers.
The downgrade leaves those dates in place (which keys had none is not kept).

Revision ID: 89e308fe7d53
Revises: 6564f503b6a8
Create Date: 2026-12-07 04:30:00+00:00
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import app.core.models
from app.core.clock import now

revision: str = "89e308fe7d53"
down_revision: str | None = "6564f503b6a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The default expiry of app.auth.api_keys, as it was when this migration was written.
API_KEY_DEFAULT_TTL = timedelta(days=90)


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_sessions_user_id"), ["user_id"], unique=False)

    # Every family of a user is one session; it has ended when none of its tokens is
    # unrevoked (count(revoked_at) counts the revoked ones).
    op.execute(
        """
        INSERT INTO auth_sessions (id, user_id, created_at, revoked_at)
        SELECT family_id, user_id, min(created_at),
               CASE WHEN count(*) = count(revoked_at) THEN max(revoked_at) END
        FROM refresh_tokens
        GROUP BY family_id, user_id
        """
    )

    api_keys = sa.table(
        "api_keys", sa.column("expires_at", app.core.models.UTCDateTime(timezone=True))
    )
    op.execute(
        api_keys.update()
        .where(api_keys.c.expires_at.is_(None))
        .values(expires_at=now() + API_KEY_DEFAULT_TTL)
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at",
            existing_type=app.core.models.UTCDateTime(timezone=True),
            nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at",
            existing_type=app.core.models.UTCDateTime(timezone=True),
            nullable=True,
        )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_sessions_user_id"))
    op.drop_table("auth_sessions")
