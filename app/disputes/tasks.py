"""The worker's part in returns and disputes: the seller's silence decides, one unit per
transaction."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from app.core.repository import claim_one
from app.disputes import returns
from app.disputes import service as disputes
from app.disputes.repository import DisputeRepository, ReturnRepository
from app.payments.provider import PaymentProvider


async def approve_one_overdue_return(
    session: AsyncSession, _settings: Settings, provider: PaymentProvider
) -> bool:
    """A return request the seller did not answer in time counts as approved."""
    claimed = await claim_one(session, ReturnRepository(session).due_for_auto_approval(now()))
    if claimed is None:
        return False
    request = await ReturnRepository(session).get_with_items(claimed.id)
    assert request is not None  # claimed and locked above
    await returns.approve_overdue(session, provider, request)
    return True


async def receive_one_delivered_return(
    session: AsyncSession, settings: Settings, provider: PaymentProvider
) -> bool:
    """A returned parcel the carrier delivered, which the seller did not confirm within the
    inspection time, counts as received: the buyer is refunded."""
    statement = ReturnRepository(session).due_for_auto_receipt(
        now() - settings.return_inspection_time
    )
    claimed = await claim_one(session, statement)
    if claimed is None:
        return False
    request = await ReturnRepository(session).get_with_items(claimed.id)
    assert request is not None  # claimed and locked above
    await returns.receive_delivered(session, provider, request)
    return True


async def resolve_one_unanswered_dispute(
    session: AsyncSession, settings: Settings, provider: PaymentProvider
) -> bool:
    """A dispute the seller did not answer in time resolves for the buyer."""
    statement = DisputeRepository(session).due_for_auto_resolution(now())
    claimed = await claim_one(session, statement)
    if claimed is None:
        return False
    await disputes.resolve_unanswered(session, settings, provider, claimed)
    return True
