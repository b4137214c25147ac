"""Presenters: notifications as their recipient sees them, and the counts of the bulk
answers."""

from app.messaging.notifications.models import Notification
from app.messaging.notifications.schemas import MarkedRead, NotificationRead, NotificationSummary


def notification_read(notification: Notification) -> NotificationRead:
    return NotificationRead.model_validate(notification)


def summary(unread: int) -> NotificationSummary:
    return NotificationSummary(unread=unread)


def marked_read(marked: int) -> MarkedRead:
    return MarkedRead(marked=marked)
