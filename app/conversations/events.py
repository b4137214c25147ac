"""What conversations announce (outbox events)."""

from app.core.events import EventType


class MessageEventType(EventType):
    created = "message.created", "A message was written in one of the shop's conversations."
