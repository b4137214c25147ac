"""What an offer's steps announce (outbox events), named by its state machine."""

from app.core.events import EventType


class OfferEventType(EventType):
    pass
