"""Domain event types. Each domain declares what it announces in its own `events.py`, as an
`EventType` enum whose members carry their description; the state machines' transitions
name them (`Transition(event=...)`), and `app.messaging.events` gathers every domain's into
the one registry that notifications, webhooks and the API spec read. A domain never names
another domain's events."""

from enum import StrEnum
from typing import Self


class EventType(StrEnum):
    """Members are `name = "<resource>.<what happened>", "what it means to a receiver"`."""

    description: str

    def __new__(cls, value: str, description: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member
