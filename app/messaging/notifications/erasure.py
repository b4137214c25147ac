"""Notifications' part in deleting an account (asked by privacy)."""

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.messaging.notifications.models import Notification


async def erase_for_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The person's notifications go, read or not: they only ever spoke to them."""
    await session.execute(delete(Notification).where(Notification.user_id == user_id))
