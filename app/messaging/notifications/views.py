"""Presenters: notifications as their recipient sees them, and the counts of the bulk
answers."""

from app.auth.models import User
from app.messaging.notifications import service
from app.messaging.notifications.models import Notification
from app.messaging.notifications.schemas import (
    EmailPreference,
    MarkedRead,
    NotificationPreferences,
    NotificationRead,
    NotificationSummary,
)


def notification_read(notification: Notification) -> NotificationRead:
    return NotificationRead.model_validate(notification)


def summary(unread: int) -> NotificationSummary:
    return NotificationSummary(unread=unread)


def marked_read(marked: int) -> MarkedRead:
    return MarkedRead(marked=marked)


def preferences(user: User) -> NotificationPreferences:
    return NotificationPreferences(
        email=[
            EmailPreference(type=kind, title=title, enabled=enabled, can_turn_off=optional)
            for kind, title, enabled, optional in service.email_preferences(user)
        ]
    )
