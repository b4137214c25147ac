"""Queueing mail: a rendered message written beside the change that causes it."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.core.mail.models import MailMessage, MailStatus
from app.core.mail.render import render

PRODUCT_NAME = "Marketplace"


def queue(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    context: Mapping[str, Any],
    user_id: uuid.UUID | None,
    topic: str | None = None,
    dedup_key: str | None = None,
) -> MailMessage:
    """Adds the mail `template` for `to` to the session (written with the caller's next
    flush, so in its transaction). A `topic` (a notification kind) marks mail its addressee
    may turn off; security mail has none."""
    rendered = render(template, {"product": PRODUCT_NAME, "topic": topic, **context})
    message = MailMessage(
        user_id=user_id,
        to_address=to,
        template=template,
        topic=topic,
        dedup_key=dedup_key,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        status=MailStatus.pending,
        attempts=0,
        next_attempt_at=now(),
        created_at=now(),
    )
    session.add(message)
    return message
