"""Notifications: written by the outbox subscriber in the transaction of the change they
announce, read and marked read by their recipient."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.principal import Principal
from app.core.clock import now
from app.core.outbox import OutboxEvent
from app.core.pagination import PageParams, SortKey, paginate
from app.messaging.notifications.exceptions import NotificationNotFound
from app.messaging.notifications.models import Notification
from app.messaging.notifications.repository import NotificationRepository
from app.messaging.notifications.rules import RULES, Audience
from app.sellers import service as sellers


def _user_id(data: dict[str, Any], key: str) -> uuid.UUID | None:
    value = data.get(key)
    return uuid.UUID(value) if isinstance(value, str) else None


async def _seller_user_id(session: AsyncSession, event: OutboxEvent) -> uuid.UUID | None:
    if event.seller_id is None:
        return None
    return (await sellers.get(session, event.seller_id)).user_id


async def _recipients(
    session: AsyncSession, event: OutboxEvent, audience: Audience
) -> set[uuid.UUID]:
    buyer = _user_id(event.data, "buyer_id")
    if audience is Audience.buyer:
        found = {buyer}
    elif audience is Audience.seller:
        found = {await _seller_user_id(session, event)}
    elif audience is Audience.recipient:
        found = {_user_id(event.data, "recipient_id")}
    elif audience is Audience.reviewed:
        about = event.data.get("about")
        found = {buyer if about == "buyer" else await _seller_user_id(session, event)}
    else:
        found = {buyer, await _seller_user_id(session, event)} - {_user_id(event.data, "actor_id")}
    # A deleted account gets nothing more.
    return await auth_service.active_among(session, {u for u in found if u is not None})


async def on_event(session: AsyncSession, event: OutboxEvent) -> None:
    """Outbox subscriber: one notification per person the event's rule names."""
    rule = RULES.get(event.type)
    if rule is None:
        return
    for user_id in sorted(await _recipients(session, event, rule.audience)):
        session.add(
            Notification(
                user_id=user_id,
                type=event.type,
                title=rule.title,
                data=event.data,
                event_id=event.id,
                created_at=event.occurred_at,
            )
        )
    await session.flush()


async def notify(
    session: AsyncSession, user_id: uuid.UUID, *, type_: str, title: str, data: dict[str, Any]
) -> Notification:
    """A platform notice that is no domain event (e.g. a webhook endpoint was disabled)."""
    return await NotificationRepository(session).add(
        Notification(user_id=user_id, type=type_, title=title, data=data, created_at=now())
    )


async def list_for(
    session: AsyncSession, principal: Principal, page: PageParams, *, unread_only: bool
) -> tuple[list[Notification], str | None]:
    statement = NotificationRepository(session).of_user(principal.user_id, unread_only=unread_only)
    return await paginate(
        session, statement, keys=[SortKey(Notification.id, descending=True)], page=page
    )


async def unread_count(session: AsyncSession, principal: Principal) -> int:
    return await NotificationRepository(session).unread_count(principal.user_id)


async def get_own(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID, *, lock: bool
) -> Notification:
    """One of the caller's notifications; 404 for anyone else's, decided by the query.
    `lock` holds its row for the rest of the transaction."""
    notification = await NotificationRepository(session).get_of_user(
        notification_id, principal.user_id, lock=lock
    )
    if notification is None:
        raise NotificationNotFound()
    return notification


async def mark_read(session: AsyncSession, notification: Notification) -> None:
    """Marking again is harmless: the first read time stays."""
    if notification.read_at is None:
        notification.read_at = now()
        await session.flush()


async def mark_all_read(session: AsyncSession, principal: Principal) -> int:
    return await NotificationRepository(session).mark_all_read(principal.user_id, now())
