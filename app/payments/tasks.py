"""Settling payouts with the provider, one payout per transaction."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.repository import claim_one
from app.payments import service
from app.payments.models import Payout, PayoutStatus
from app.payments.provider import PaymentProvider


async def settle_one_payout(
    session: AsyncSession, _settings: Settings, provider: PaymentProvider
) -> bool:
    statement = select(Payout).where(Payout.status == PayoutStatus.pending).order_by(Payout.id)
    payout = await claim_one(session, statement)
    if payout is None:
        return False
    await service.settle_payout(session, provider, payout)
    return True
