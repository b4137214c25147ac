"""The event types a webhook endpoint may subscribe to (what the domains emit)."""

EVENT_TYPES: dict[str, str] = {
    "order.created": "A buyer checked out an order from the shop (not paid yet).",
    "order.paid": "The order was paid; the money is held in escrow. Ship it.",
    "order.shipped": "The order was marked shipped.",
    "order.delivery_window_ending": "The order completes on its own soon.",
    "order.completed": "The buyer confirmed receipt or the order completed on its own.",
    "order.cancelled": "The order was cancelled (unpaid, expired or refunded).",
    "order.disputed": "A dispute froze the order.",
    "order.refunded": "The order was refunded in full.",
    "order.partially_refunded": "Part of the order was refunded.",
    "return.requested": "The buyer asked to return items.",
    "return.approved": "The return was approved.",
    "return.rejected": "The return was rejected.",
    "return.shipped_back": "The buyer shipped the items back.",
    "return.received": "The items came back and were refunded.",
    "dispute.opened": "The buyer opened a dispute.",
    "dispute.answered": "A party answered in the dispute.",
    "dispute.escalated": "The dispute was escalated to the platform.",
    "dispute.resolved": "The dispute was resolved.",
    "review.published": "A review of the order was published.",
    "payout.paid": "A payout reached the seller's account.",
    "payout.failed": "A payout was refused; the money is back in the available balance.",
    "listing.low_stock": "A listing's quantity fell to its low-stock threshold.",
    "listing.approved": "An admin approved a listing held for review; it is live.",
    "listing.rejected": "An admin rejected a listing held for review.",
    "listing.removed": "An admin removed a listing.",
    "message.created": "A message was written in one of the shop's conversations.",
}

# The API-key resource whose `read` scope an event discloses (by the part before the dot).
RESOURCE_OF_EVENT = {
    "order": "orders",
    "return": "returns",
    "dispute": "disputes",
    "review": "reviews",
    "payout": "payouts",
    "listing": "listings",
    "message": "messages",
}


def read_scope_of(event_type: str) -> str:
    return f"{RESOURCE_OF_EVENT[event_type.partition('.')[0]]}:read"
