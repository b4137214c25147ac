"""What reviews announce (outbox events). A review being written stays secret: only the
publication of an order's reviews is announced."""

from app.core.events import EventType


class ReviewEventType(EventType):
    published = "review.published", "A review of the order was published."
