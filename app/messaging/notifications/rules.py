"""Who hears about which event, and in what words: data, not code paths."""

from dataclasses import dataclass
from enum import StrEnum


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
    "order.created": Rule(Audience.seller, "New order awaiting payment"),
    "order.paid": Rule(Audience.seller, "Order paid: please ship it"),
    "order.shipped": Rule(Audience.buyer, "Your order has shipped"),
    "order.delivery_window_ending": Rule(
        Audience.buyer, "Confirm receipt or report a problem before the order completes"
    ),
    "order.completed": Rule(Audience.seller, "Order completed"),
    "order.cancelled": Rule(Audience.parties, "Order cancelled"),
    "return.requested": Rule(Audience.seller, "Return requested"),
    "return.approved": Rule(Audience.buyer, "Return approved: please ship it back"),
    "return.rejected": Rule(Audience.buyer, "Return rejected"),
    "return.shipped_back": Rule(Audience.seller, "Returned item on its way back"),
    "return.received": Rule(Audience.buyer, "Return received: refund issued"),
    "dispute.opened": Rule(Audience.seller, "A dispute was opened on your order"),
    "dispute.answered": Rule(Audience.parties, "New answer in your dispute"),
    "dispute.escalated": Rule(Audience.parties, "Dispute escalated to the platform"),
    "dispute.resolved": Rule(Audience.parties, "Dispute resolved"),
    "review.published": Rule(Audience.reviewed, "You have a new review"),
    "payout.paid": Rule(Audience.seller, "Payout sent"),
    "payout.failed": Rule(Audience.seller, "Payout failed: the money is back in your balance"),
    "listing.low_stock": Rule(Audience.seller, "Listing running low on stock"),
    "listing.approved": Rule(Audience.seller, "Listing approved"),
    "listing.rejected": Rule(Audience.seller, "Listing rejected"),
    "listing.removed": Rule(Audience.seller, "Listing removed by the platform"),
    "message.created": Rule(Audience.recipient, "New message"),
    # A security notice: a key is lasting access to the shop, so its owner hears of every
    # new one at once (a webhook never does: the event names no shop).
    "api_key.created": Rule(
        Audience.recipient, "A new API key was created: if it was not you, revoke it"
    ),
}
