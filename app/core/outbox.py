"""Domain events, written to the outbox in the same transaction as the change they describe.

A domain calls `emit(...)`; it never imports the consumers. Consumers (notifications,
webhook fan-out) `subscribe` once at start-up and run inside the emitting transaction, so a
rollback removes the change, its event and everything derived from it together — and a
commit keeps them all. Delivery to the outside world happens later, from rows written here.
"""

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
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


Subscriber = Callable[[AsyncSession, Sequence[OutboxEvent]], Awaitable[None]]
"""A consumer gets every event one change emits at once, so that it can read and write for
all of them in a constant number of statements (a checkout of five shops emits five)."""

_subscribers: list[Subscriber] = []


def subscribe(handler: Subscriber) -> None:
    """Registers a consumer for every event from now on (once per handler)."""
    if handler not in _subscribers:
        _subscribers.append(handler)


@dataclass(frozen=True, slots=True)
class Emission:
    """One event to write: one of a domain's event types (see `app.core.events`), the shop it
    concerns (None: none), and its data, which may hold ids, times and enums (stored as their
    JSON text)."""

    type: EventType
    seller_id: uuid.UUID | None
    data: Mapping[str, Any]


async def emit_all(session: AsyncSession, emissions: Sequence[Emission]) -> list[OutboxEvent]:
    """Writes the events (one INSERT, with whatever else the session has pending) and runs
    the subscribers once for all of them, in the caller's transaction."""
    occurred_at = now()
    events = [
        OutboxEvent(
            type=str(emission.type),
            seller_id=emission.seller_id,
            data=to_jsonable_python(dict(emission.data)),
            occurred_at=occurred_at,
        )
        for emission in emissions
    ]
    if not events:
        return events
    session.add_all(events)
    await session.flush()
    for handler in _subscribers:
        await handler(session, events)
    return events


async def emit(
    session: AsyncSession,
    event_type: EventType,
    *,
    seller_id: uuid.UUID | None,
    data: Mapping[str, Any],
) -> OutboxEvent:
    """Writes one event and runs the subscribers, in the caller's transaction."""
    (event,) = await emit_all(session, [Emission(event_type, seller_id, data)])
    return event
