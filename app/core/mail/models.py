import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, enum_column


class MailStatus(StrEnum):
    pending = "pending"
    """Waiting for its next attempt (or being attempted now)."""
    sent = "sent"
    failed = "failed"
    """Every attempt failed."""


class MailMessage(IdMixin, Base):
    """One email to one address, rendered when queued, attempted until sent or out of tries.

    Its bodies are wiped once it is sent or has failed for good (they may hold a
    single-use token), except where the console backend is the mailbox a developer reads."""

    __tablename__ = "mail_messages"
    __table_args__ = (Index("ix_mail_messages_due", "status", "next_attempt_at"),)

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    """The account it is for (null: an address with no account behind it)."""
    to_address: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    """Which mail it is (`verify_email`, `password_reset`, `notification`, ...)."""
    topic: Mapped[str | None] = mapped_column(String(64))
    """For a notification mail, its kind (an event type), which its addressee may turn off
    (it is sent with a one-click `List-Unsubscribe` for it); null for security mail, which
    is always sent."""
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    """At most one message per key (`<event id>:<user id>` for a notification), so one event
    mails one person once however often it is handled."""
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(
        enum_column(MailStatus, "mail_status"), default=MailStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    """When a worker may (re)try it; while an attempt is in flight, the end of its lease."""
    claim_id: Mapped[uuid.UUID | None]
    """Set by the claim of the attempt in flight; only that attempt's outcome is recorded."""
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]
