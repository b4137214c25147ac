"""What accounts announce (outbox events). They name no shop, so they are never webhook
events: a shop's software has no business learning of the shop's other keys."""

from app.core.events import EventType


class AccountEventType(EventType):
    api_key_created = (
        "api_key.created",
        "A new API key was created for the account (its owner is told at once).",
    )
