"""The double-entry ledger: every money movement is one balanced transaction; balances are
sums of entries, never stored."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.payments.models import Account, LedgerEntry, LedgerTransaction


class UnbalancedTransaction(Exception):
    """A bug, never a user error: the legs of a money movement do not sum to zero."""


@dataclass(frozen=True, slots=True)
class Leg:
    account: Account
    amount: int
    """Minor units; positive into the account, negative out of it."""
    currency: str
    owner_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None


async def post(
    session: AsyncSession,
    kind: str,
    legs: Sequence[Leg],
    *,
    order_id: uuid.UUID | None = None,
    payout_id: uuid.UUID | None = None,
    memo: str | None = None,
) -> LedgerTransaction:
    """Record one money movement, refusing it unless it balances in every currency."""
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.currency] += leg.amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced or not legs:
        raise UnbalancedTransaction(f"{kind}: legs do not sum to zero: {unbalanced or 'none'}")
    transaction = LedgerTransaction(kind=kind, order_id=order_id, payout_id=payout_id, memo=memo)
    session.add(transaction)
    await session.flush()
    session.add_all(
        LedgerEntry(
            transaction_id=transaction.id,
            account=leg.account,
            owner_id=leg.owner_id,
            order_id=leg.order_id,
            amount=leg.amount,
            currency=leg.currency,
        )
        for leg in legs
        if leg.amount != 0
    )
    await session.flush()
    return transaction


async def balance(
    session: AsyncSession,
    account: Account,
    currency: str,
    *,
    owner_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
) -> int:
    statement = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.account == account, LedgerEntry.currency == currency
    )
    if owner_id is not None:
        statement = statement.where(LedgerEntry.owner_id == owner_id)
    if order_id is not None:
        statement = statement.where(LedgerEntry.order_id == order_id)
    return int(await session.scalar(statement) or 0)


async def owner_balances(
    session: AsyncSession, owner_id: uuid.UUID
) -> dict[tuple[str, Account], int]:
    """{(currency, account): balance} for every account of one seller (one indexed query)."""
    statement = (
        select(LedgerEntry.currency, LedgerEntry.account, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.owner_id == owner_id)
        .group_by(LedgerEntry.currency, LedgerEntry.account)
    )
    rows = (await session.execute(statement)).all()
    return {(currency, account): int(total) for currency, account, total in rows}
