"""Webhooks' part in deleting an account (asked by privacy)."""

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.messaging.webhooks.models import WebhookEndpoint


async def delete_for_shop(session: AsyncSession, shop_id: uuid.UUID) -> None:
    """A closed shop's integration goes: its endpoints (URLs, secrets) and, with them, their
    deliveries (the foreign key cascades)."""
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.seller_id == shop_id))
