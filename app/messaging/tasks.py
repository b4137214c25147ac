"""Housekeeping of the messaging tables, which grow with every domain event."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from app.messaging.notifications.repository import NotificationRepository
from app.messaging.webhooks.repository import DeliveryRepository


async def purge_expired(session: AsyncSession, settings: Settings) -> int:
    """Drops what is older than `event_retention`: finished deliveries and their log, read
    notifications, then the events nothing refers to any more. Pending deliveries (of a
    disabled endpoint, say) keep their events."""
    cutoff = now() - settings.event_retention
    deliveries = DeliveryRepository(session)
    removed = await deliveries.purge_finished_before(cutoff)
    removed += await NotificationRepository(session).purge_read_before(cutoff)
    return removed + await deliveries.purge_events_before(cutoff)
