"""Wires the outbox's consumers: every domain event becomes notifications and queued
webhook deliveries inside the transaction that emitted it."""

from app.core import outbox
from app.messaging.notifications import service as notifications
from app.messaging.webhooks import service as webhooks


def install() -> None:
    """Idempotent; called by the API at start-up and by the standalone worker."""
    outbox.subscribe(notifications.on_events)
    outbox.subscribe(webhooks.on_events)
