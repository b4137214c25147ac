"""Who hears about which event, and in what words: data, not code paths."""

from dataclasses import dataclass
from enum import StrEnum

from app.auth.events import AccountEventType
from app.catalog.events import ListingEventType
from app.conversations.events import MessageEventType
from app.core.events import EventType
from app.disputes.events import DisputeEventType, ReturnEventType
from app.orders.events import OrderEventType
from app.payments.events import PayoutEventType
from app.reviews.events import ReviewEventType


class Audience(StrEnum):
    buyer = "buyer"
    seller = "seller"
    parties = "parties"
    """Buyer and seller, except whoever caused the event."""
    reviewed = "reviewed"
    """The person a published review is about (`about` in the event)."""
    recipient = "recipient"
    """The user named by `recipient_id` (a message's addressee, a new API key's owner)."""


@dataclass(frozen=True, slots=True)
class Rule:
    audience: Audience
    title: str


RULES: dict[str, Rule] = {
    OrderEventType.created: Rule(Audience.seller, "New order awaiting payment"),
    OrderEventType.paid: Rule(Audience.seller, "Order paid: please ship it"),
    OrderEventType.shipped: Rule(Audience.buyer, "Your order has shipped"),
    OrderEventType.delivery_window_ending: Rule(
        Audience.buyer, "Confirm receipt or report a problem before the order completes"
    ),
    OrderEventType.completed: Rule(Audience.seller, "Order completed"),
    OrderEventType.cancelled: Rule(Audience.parties, "Order cancelled"),
    ReturnEventType.requested: Rule(Audience.seller, "Return requested"),
    ReturnEventType.approved: Rule(Audience.buyer, "Return approved: please ship it back"),
    ReturnEventType.rejected: Rule(Audience.buyer, "Return rejected"),
    ReturnEventType.shipped_back: Rule(Audience.seller, "Returned item on its way back"),
    ReturnEventType.received: Rule(Audience.buyer, "Return received: refund issued"),
    DisputeEventType.opened: Rule(Audience.seller, "A dispute was opened on your order"),
    DisputeEventType.answered: Rule(Audience.parties, "New answer in your dispute"),
    DisputeEventType.escalated: Rule(Audience.parties, "Dispute escalated to the platform"),
    DisputeEventType.resolved: Rule(Audience.parties, "Dispute resolved"),
    ReviewEventType.published: Rule(Audience.reviewed, "You have a new review"),
    PayoutEventType.paid: Rule(Audience.seller, "Payout sent"),
    PayoutEventType.failed: Rule(
        Audience.seller, "Payout failed: the money is back in your balance"
    ),
    ListingEventType.low_stock: Rule(Audience.seller, "Listing running low on stock"),
    ListingEventType.approved: Rule(Audience.seller, "Listing approved"),
    ListingEventType.rejected: Rule(Audience.seller, "Listing rejected"),
    ListingEventType.removed: Rule(Audience.seller, "Listing removed by the platform"),
    MessageEventType.created: Rule(Audience.recipient, "New message"),
    # A security notice: a key is lasting access to the shop, so its owner hears of every
    # new one at once (a webhook never does: the event names no shop).
    AccountEventType.api_key_created: Rule(
        Audience.recipient, "A new API key was created: if it was not you, revoke it"
    ),
}
"""Keyed by the registry's event types (`app.messaging.events`)."""

SILENT: frozenset[EventType] = frozenset(
    {OrderEventType.disputed, OrderEventType.refunded, OrderEventType.partially_refunded}
)
"""Events nobody is notified of: the dispute's or the return's own event already tells the
parties (a dispute opened, resolved; a return received and refunded)."""
