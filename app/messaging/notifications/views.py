"""Presenters: notifications as their recipient sees them, and the counts of the bulk
answers."""

from collections.abc import Sequence

from app.core.schemas import Page
from app.messaging.notifications.models import Notification
from app.messaging.notifications.schemas import MarkedRead, NotificationRead, NotificationSummary


def notification_read(notification: Notification) -> NotificationRead:
    return NotificationRead.model_validate(notification)


def notification_page(
    notifications: Sequence[Notification], next_cursor: str | None
) -> Page[NotificationRead]:
    return Page(items=[notification_read(n) for n in notifications], next_cursor=next_cursor)


def summary(unread: int) -> NotificationSummary:
    return NotificationSummary(unread=unread)


def marked_read(marked: int) -> MarkedRead:
    return MarkedRead(marked=marked)
