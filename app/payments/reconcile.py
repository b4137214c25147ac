"""Ledger reconciliation: every invariant of the money, checked from the database.

Two of the checks compare the ledger with the orders' states, which payments does not know
(orders sit above it): the caller names those orders, as statements selecting their ids."""

import uuid

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.payments.models import Account
from app.payments.repository import LedgerRepository
from app.payments.schemas import ReconcileCheck, ReconcileReport, Violation


async def reconcile(
    session: AsyncSession,
    *,
    closed_orders: Select[uuid.UUID],
    undisputed_orders: Select[uuid.UUID],
) -> ReconcileReport:
    """Every violated invariant. `closed_orders`: orders whose money must have left escrow;
    `undisputed_orders`: orders that may not hold a dispute reserve."""
    ledger = LedgerRepository(session)
    violations = [
        Violation(
            check=ReconcileCheck.transaction_balanced, detail=f"transaction {t} is off by {s} {c}"
        )
        for t, c, s in await ledger.unbalanced_transactions()
    ]
    violations += [
        Violation(check=ReconcileCheck.ledger_sums_to_zero, detail=f"the {c} ledger sums to {s}")
        for c, s in await ledger.currency_totals()
        if s != 0
    ]
    violations += [
        Violation(
            check=ReconcileCheck.no_escrow_on_closed_orders, detail=f"order {o} still holds {s} {c}"
        )
        for o, c, s in await ledger.money_left_on(Account.escrow, closed_orders)
    ]
    violations += [
        Violation(
            check=ReconcileCheck.no_reserve_without_dispute,
            detail=f"order {o} still reserves {s} {c}",
        )
        for o, c, s in await ledger.money_left_on(Account.seller_reserved, undisputed_orders)
    ]
    violations += [
        Violation(check=ReconcileCheck.no_negative_balance, detail=f"{a} of seller {o}: {s} {c}")
        for a, o, c, s in await ledger.negative_balances()
    ]
    violations += [
        Violation(
            check=ReconcileCheck.running_balance_agrees,
            detail=(
                f"{a} of seller {o}: the running balance is {running} {c}, "
                f"its entries sum to {entries} {c}"
            ),
        )
        for o, a, c, running, entries in await ledger.drifted_balances()
    ]
    expected, actual = await ledger.provider_net(), await ledger.external_totals()
    violations += [
        Violation(
            check=ReconcileCheck.provider_agrees,
            detail=(
                f"{c}: the ledger's external account is {actual.get(c, 0)}, "
                f"the provider's book says {expected.get(c, 0)}"
            ),
        )
        for c in sorted(set(expected) | set(actual))
        if expected.get(c, 0) != actual.get(c, 0)
    ]
    return ReconcileReport(ok=not violations, checked_at=now(), violations=violations)
