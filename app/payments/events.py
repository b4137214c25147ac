"""What payments announce to a seller's shop (outbox events)."""

from app.core.events import EventType


class PayoutEventType(EventType):
    paid = "payout.paid", "A payout reached the seller's account."
    failed = "payout.failed", "A payout was refused; the money is back in the available balance."
