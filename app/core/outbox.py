"""Domain events, written to the outbox in the same transaction as the change they describe.

A domain calls `emit(...)`; it never imports the consumers. Consumers (notifications,
webhook fan-out) `subscribe` once at start-up and run inside the emitting transaction, so a
rollback removes the change, its event and everything derived from it together — and a
commit keeps them all. Delivery to the outside world happens later, from rows written here.
"""

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import JSON, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.events import EventType
from app.core.models import Base, IdMixin


class OutboxEvent(IdMixin, Base):
    """One domain event. Append-only; its id is the de-duplication key receivers see."""

    __tablename__ = "outbox_events"

    type: Mapped[str] = mapped_column(String(64))
    """Dotted `<resource>.<what happened>`, e.g. `order.paid`."""
    seller_id: Mapped[uuid.UUID | None]
    """The shop the event concerns (whose webhooks receive it); null for none."""
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=now, index=True)


Subscriber = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]

_subscribers: list[Subscriber] = []


def subscribe(handler: Subscriber) -> None:
    """Registers a consumer for every event from now on (once per handler)."""
    if handler not in _subscribers:
        _subscribers.append(handler)


async def emit(
    session: AsyncSession,
    event_type: EventType,
    *,
    seller_id: uuid.UUID | None,
    data: Mapping[str, Any],
) -> OutboxEvent:
    """Writes the event (one of a domain's event types, see `app.core.events`) and runs the
    subscribers in the caller's transaction. `data` may hold ids, times and enums; they are
    stored as their JSON text."""
    payload: dict[str, Any] = to_jsonable_python(dict(data))
    event = OutboxEvent(type=str(event_type), seller_id=seller_id, data=payload, occurred_at=now())
    session.add(event)
    await session.flush()
    for handler in _subscribers:
        await handler(session, event)
    return event
