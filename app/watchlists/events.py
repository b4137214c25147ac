"""What watching listings and searches tells the watcher (outbox events)."""

from app.core.events import EventType


class WatchlistEventType(EventType):
    pass
