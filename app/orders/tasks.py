"""The orders' time-based work, one unit (one checkout, one order) per transaction."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from app.core.repository import claim_one
from app.orders import checkout as checkout_service
from app.orders import service
from app.orders.models import Checkout, Order
from app.orders.repository import CheckoutRepository, OrderRepository
from app.payments.provider import PaymentProvider


async def expire_one_checkout(
    session: AsyncSession, _settings: Settings, provider: PaymentProvider
) -> bool:
    """Cancel one unpaid checkout past its expiry, returning its stock."""
    statement = CheckoutRepository(session).due_for_expiry(now())
    claimed = await claim_one(session, statement)
    if claimed is None:
        return False
    checkout = await CheckoutRepository(session).get_with_orders(claimed.id)
    assert isinstance(checkout, Checkout)
    await checkout_service.expire(session, provider, checkout)
    return True


async def remind_one_completion(
    session: AsyncSession, settings: Settings, _provider: PaymentProvider
) -> bool:
    """Remind the buyer of one shipped order that completes on its own within
    `completion_reminder_before`: confirm receipt, or report a problem while it is time."""
    statement = OrderRepository(session).due_for_completion_reminder(
        now(), settings.completion_reminder_before
    )
    claimed = await claim_one(session, statement)
    if claimed is None:
        return False
    await service.remind_completion(session, claimed)
    return True


async def auto_complete_one_order(
    session: AsyncSession, settings: Settings, _provider: PaymentProvider
) -> bool:
    """Complete one shipped order whose buyer neither confirmed nor complained in time."""
    statement = OrderRepository(session).due_for_auto_complete(now())
    claimed = await claim_one(session, statement)
    if claimed is None:
        return False
    order = await OrderRepository(session).get_with_lines(claimed.id)
    assert isinstance(order, Order)
    await service.auto_complete(session, order, settings=settings)
    return True


async def refund_one_undelivered_order(
    session: AsyncSession, _settings: Settings, provider: PaymentProvider
) -> bool:
    """Refund one shipped order whose parcel was lost or sent back long enough ago, with no
    later scan and no dispute."""
    statement = OrderRepository(session).due_for_undelivered_refund(now())
    claimed = await claim_one(session, statement)
    if claimed is None:
        return False
    order = await OrderRepository(session).get_with_lines(claimed.id)
    assert isinstance(order, Order)
    await service.refund_undelivered(session, provider, order)
    return True


async def release_one_hold(
    session: AsyncSession, _settings: Settings, _provider: PaymentProvider
) -> bool:
    """Make one completed order's proceeds available once the payout hold has passed."""
    statement = OrderRepository(session).due_for_fund_release(now())
    claimed = await claim_one(session, statement)
    if claimed is None:
        return False
    await service.release_held_funds(session, claimed)
    return True
