"""The offers' time-based work, one offer per transaction."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from app.core.repository import claim_one
from app.offers import service
from app.offers.repository import OfferRepository
from app.payments.provider import PaymentProvider


async def expire_one_offer(
    session: AsyncSession, _settings: Settings, _provider: PaymentProvider
) -> bool:
    """Expire one open offer past its deadline (an accepted one returns its stock). The
    claim locks it, skipping one a party is answering right now, whose step then decides."""
    claimed = await claim_one(session, OfferRepository(session).due_for_expiry(now()))
    if claimed is None:
        return False
    await service.expire(session, claimed)
    return True
