"""Ledger reconciliation: every invariant of the money, checked from the database."""

from datetime import datetime

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import AdminUser
from app.auth.exceptions import AdminRequired, InvalidToken
from app.core.clock import now
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.routing import API_PREFIX
from app.orders.models import Order, OrderStatus
from app.payments.models import Account, LedgerEntry, ProviderOperation, ProviderOperationKind
from app.payments.schemas import ReconcileReport, Violation

router = APIRouter(
    prefix=f"{API_PREFIX}/admin/ledger",
    tags=["admin"],
    responses=error_responses(InvalidToken, AdminRequired),
)

_TERMINAL = (OrderStatus.completed, OrderStatus.cancelled, OrderStatus.refunded)


async def reconcile(session: AsyncSession) -> ReconcileReport:
    violations: list[Violation] = []

    unbalanced = await session.execute(
        select(LedgerEntry.transaction_id, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id, LedgerEntry.currency)
        .having(func.sum(LedgerEntry.amount) != 0)
    )
    violations += [
        Violation(check="transaction_balanced", detail=f"transaction {t} is off by {s} {c}")
        for t, c, s in unbalanced
    ]

    totals = await session.execute(
        select(LedgerEntry.currency, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.currency)
    )
    violations += [
        Violation(check="ledger_sums_to_zero", detail=f"the {c} ledger sums to {s}")
        for c, s in totals
        if s != 0
    ]

    stuck = await session.execute(
        select(LedgerEntry.order_id, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .join(Order, Order.id == LedgerEntry.order_id)
        .where(LedgerEntry.account == Account.escrow, Order.status.in_(_TERMINAL))
        .group_by(LedgerEntry.order_id, LedgerEntry.currency)
        .having(func.sum(LedgerEntry.amount) != 0)
    )
    violations += [
        Violation(check="no_escrow_on_closed_orders", detail=f"order {o} still holds {s} {c}")
        for o, c, s in stuck
    ]

    negative = await session.execute(
        select(LedgerEntry.owner_id, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .where(
            LedgerEntry.account.in_(
                [
                    Account.seller_available,
                    Account.seller_pending,
                    Account.payouts_in_transit,
                    Account.escrow,
                ]
            )
        )
        .group_by(LedgerEntry.account, LedgerEntry.owner_id, LedgerEntry.currency)
        .having(func.sum(LedgerEntry.amount) < 0)
    )
    violations += [
        Violation(check="no_negative_balance", detail=f"owner {o}: {s} {c}") for o, c, s in negative
    ]

    # The external account mirrors the provider's book: captures in, refunds and payouts out.
    provider_net = await session.execute(
        select(
            ProviderOperation.currency,
            func.sum(ProviderOperation.amount).filter(
                ProviderOperation.kind == ProviderOperationKind.capture
            ),
            func.sum(ProviderOperation.amount).filter(
                ProviderOperation.kind != ProviderOperationKind.capture
            ),
        )
        .where(ProviderOperation.succeeded)
        .group_by(ProviderOperation.currency)
    )
    expected = {c: (out or 0) - (captured or 0) for c, captured, out in provider_net}
    external = await session.execute(
        select(LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.account == Account.external)
        .group_by(LedgerEntry.currency)
    )
    actual = {c: int(s) for c, s in external}
    for currency in sorted(set(expected) | set(actual)):
        if expected.get(currency, 0) != actual.get(currency, 0):
            violations.append(
                Violation(
                    check="provider_agrees",
                    detail=(
                        f"{currency}: the ledger's external account is {actual.get(currency, 0)}, "
                        f"the provider's book says {expected.get(currency, 0)}"
                    ),
                )
            )
    checked_at: datetime = now()
    return ReconcileReport(ok=not violations, checked_at=checked_at, violations=violations)


@router.get("/reconcile", response_model=ReconcileReport)
async def reconcile_ledger(admin: AdminUser, session: DbSession) -> ReconcileReport:
    """Check every ledger invariant: each transaction balanced, the ledger summing to zero,
    no escrow left on closed orders, no negative balance, and the ledger agreeing with the
    payment provider's records. Lists every violation."""
    return await reconcile(session)
