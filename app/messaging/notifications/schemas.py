import uuid
from datetime import datetime
from typing import Any

from app.core.schemas import Schema


class NotificationRead(Schema):
    id: uuid.UUID
    type: str
    """The event announced, e.g. `order.shipped`."""
    title: str
    data: dict[str, Any]
    """Ids of what it is about (order_id, dispute_id, listing_id…)."""
    created_at: datetime
    read_at: datetime | None


class NotificationSummary(Schema):
    unread: int


class MarkedRead(Schema):
    marked: int
    """How many notifications were unread and are now read."""
