"""Ledger reconciliation: every invariant of the money, checked from the database. It lives
here because one check spans two domains (escrow in payments, order states in orders)."""

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import AdminUser
from app.auth.exceptions import AdminRequired, InvalidToken
from app.core.clock import now
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.routing import API_PREFIX
from app.orders import service as order_service
from app.payments.models import Account
from app.payments.repository import LedgerRepository
from app.payments.schemas import ReconcileReport, Violation

router = APIRouter(
    prefix=f"{API_PREFIX}/admin/ledger",
    tags=["admin"],
    responses=error_responses(InvalidToken, AdminRequired),
)


async def reconcile(session: AsyncSession) -> ReconcileReport:
    ledger = LedgerRepository(session)
    violations = [
        Violation(check="transaction_balanced", detail=f"transaction {t} is off by {s} {c}")
        for t, c, s in await ledger.unbalanced_transactions()
    ]
    violations += [
        Violation(check="ledger_sums_to_zero", detail=f"the {c} ledger sums to {s}")
        for c, s in await ledger.currency_totals()
        if s != 0
    ]
    violations += [
        Violation(check="no_escrow_on_closed_orders", detail=f"order {o} still holds {s} {c}")
        for o, c, s in await ledger.money_left_on(Account.escrow, order_service.closed_order_ids())
    ]
    violations += [
        Violation(check="no_reserve_without_dispute", detail=f"order {o} still reserves {s} {c}")
        for o, c, s in await ledger.money_left_on(
            Account.seller_reserved, order_service.undisputed_order_ids()
        )
    ]
    violations += [
        Violation(check="no_negative_balance", detail=f"{a} of seller {o}: {s} {c}")
        for a, o, c, s in await ledger.negative_balances()
    ]
    expected, actual = await ledger.provider_net(), await ledger.external_totals()
    violations += [
        Violation(
            check="provider_agrees",
            detail=(
                f"{c}: the ledger's external account is {actual.get(c, 0)}, "
                f"the provider's book says {expected.get(c, 0)}"
            ),
        )
        for c in sorted(set(expected) | set(actual))
        if expected.get(c, 0) != actual.get(c, 0)
    ]
    return ReconcileReport(ok=not violations, checked_at=now(), violations=violations)


@router.get("/reconcile", response_model=ReconcileReport)
async def reconcile_ledger(admin: AdminUser, session: DbSession) -> ReconcileReport:
    """Check every ledger invariant: each transaction balanced, the ledger summing to zero,
    no escrow left on closed orders, no reserve left once a dispute is over, no negative
    pending, reserved or in-transit balance (available may be negative: a seller's debt after
    refunds), and the ledger agreeing with the payment provider's records. Lists every
    violation."""
    return await reconcile(session)
