"""What an order announces (outbox events). The order lifecycle's transitions name them
(`app.orders.state`); the steps that are no transition (checkout creating the order, the
delivery-window reminder) pass theirs to `service.record_event` themselves."""

from app.core.events import EventType
from app.orders.models import EventSubject


class OrderEventType(EventType):
    created = "order.created", "A buyer checked out an order from the shop (not paid yet)."
    paid = "order.paid", "The order was paid; the money is held in escrow. Ship it."
    shipped = "order.shipped", "The order was marked shipped."
    delivery_window_ending = "order.delivery_window_ending", "The order completes on its own soon."
    completed = (
        "order.completed",
        "The buyer confirmed receipt or the order completed on its own.",
    )
    cancelled = "order.cancelled", "The order was cancelled (unpaid, expired or refunded)."
    disputed = "order.disputed", "A dispute froze the order."
    refunded = "order.refunded", "The order was refunded in full."
    partially_refunded = "order.partially_refunded", "Part of the order was refunded."
    undelivered_refunded = (
        "order.undelivered_refunded",
        "The carrier lost the parcel or sent it back, nothing changed for a while and nobody "
        "disputed: the buyer was refunded in full.",
    )


SUBJECT_ID_KEY = {
    EventSubject.return_request: "return_id",
    EventSubject.dispute: "dispute_id",
    EventSubject.review: "review_id",
    EventSubject.shipment: "shipment_id",
}
"""Where an announced step of a return, dispute or review carries that subject's id."""
