"""Issue 17, accounts people can recover and mail that reaches them: the mail outbox
(`mail_messages`), single-use account tokens (email verification, password reset), reset
requests for the worker, TOTP recovery codes, and on `users` the verified email, the pending
new address, email opt-outs and the TOTP secret.

Accounts that exist before this migration are taken as verified: they were opened when no
proof was asked, and refusing their payments from one day to the next would punish their
owners for a rule they never met. New accounts and changed addresses must prove themselves.

Revision ID: i17a_accounts_mail
Revises: i16b_balances
Create Date: 2026-12-07 19:01:51.462906+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i17a_accounts_mail"
down_revision: str | None = "i16b_balances"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("requested_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
    )
    op.create_table(
        "account_tokens",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "verify_email",
                "password_reset",
                name="account_token_purpose",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_tokens_token_hash")),
    )
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "mail_messages",
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("dedup_key", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=True),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="mail_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_id", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_mail_messages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_messages")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_mail_messages_dedup_key")),
    )
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.create_index("ix_mail_messages_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_messages_user_id"), ["user_id"], unique=False)

    op.create_table(
        "totp_recovery_codes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_totp_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_recovery_codes")),
    )
    with op.batch_alter_table("totp_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_totp_recovery_codes_user_id"), ["user_id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "email_verified_at", app.core.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("pending_email", sa.String(length=320), nullable=True))
        batch_op.add_column(
            # A plain string default: SQLite then adds the column in place, where an expression
            # would make the batch rebuild `users` (DROP TABLE under foreign keys, which
            # cascades to, or is refused by, every table that refers to a user).
            sa.Column("email_opt_outs", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("totp_enabled_at", app.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.execute("UPDATE users SET email_verified_at = created_at WHERE deleted_at IS NULL")


def downgrade() -> None:
    # Never rebuilt (see upgrade): SQLite 3.35+ drops columns in place.
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("email_opt_outs")
        batch_op.drop_column("pending_email")
        batch_op.drop_column("email_verified_at")

    with op.batch_alter_table("totp_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_totp_recovery_codes_user_id"))

    op.drop_table("totp_recovery_codes")
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_messages_user_id"))
        batch_op.drop_index("ix_mail_messages_due")

    op.drop_table("mail_messages")
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_tokens_user_id"))

    op.drop_table("account_tokens")
    op.drop_table("password_reset_requests")
