import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin


class Notification(IdMixin, Base):
    """Something a person should know about, shown in the app until they read it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_id", "user_id", "id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    """The domain event it announces, e.g. `order.shipped`."""
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The event's ids (order, return, dispute…), for the app to link to."""
    event_id: Mapped[uuid.UUID | None]
    """The outbox event it came from; null for platform notices (an endpoint disabled)."""
    created_at: Mapped[datetime] = mapped_column(default=now)
    read_at: Mapped[datetime | None]
