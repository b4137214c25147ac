"""The parcels' time-based work: asking polling providers what happened."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.logistics import service
from app.payments.provider import PaymentProvider


async def poll_one_order_shipments(
    session: AsyncSession, settings: Settings, _provider: PaymentProvider
) -> bool:
    """Ask the tracking providers about one order's parcels that are due."""
    return await service.poll_one_order(session, settings)
