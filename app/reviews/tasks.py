"""The worker's part in reviews: publish what the window's end reveals."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from app.core.repository import claim_one
from app.payments.provider import PaymentProvider
from app.reviews import service
from app.reviews.repository import ReviewRepository


async def publish_one_order_reviews(
    session: AsyncSession, _settings: Settings, _provider: PaymentProvider
) -> bool:
    """The review window of an order closed with only one side (or none) written: what was
    written goes public."""
    claimed = await claim_one(session, ReviewRepository(session).due_for_publication(now()))
    if claimed is None:
        return False
    await service.publish(session, claimed.order_id)
    return True
