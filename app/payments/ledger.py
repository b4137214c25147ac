"""The double-entry ledger: every money movement is one balanced transaction. The entries
are the truth; each seller account also has a running balance (`AccountBalance`), moved in
the same transaction as its entries, so an owner's balance is read in constant time."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.payments.models import SELLER_ACCOUNTS, Account, LedgerEntry, LedgerTransaction
from app.payments.repository import BalanceKey, LedgerRepository


class UnbalancedTransaction(Exception):
    """A bug, never a user error: the legs of a money movement do not sum to zero."""


class MisownedLeg(Exception):
    """A bug, never a user error: a seller account's leg without its owner (money no running
    balance would count), or an owner on a platform account."""


@dataclass(frozen=True, slots=True)
class Leg:
    account: Account
    amount: int
    """Minor units; positive into the account, negative out of it."""
    currency: str
    owner_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.owner_id is not None) != (self.account in SELLER_ACCOUNTS):
            raise MisownedLeg(f"{self.account} with owner {self.owner_id}")


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
    if books := _owners_books(legs):
        await LedgerRepository(session).add_to_balances(books)
    return transaction


def _owners_books(legs: Sequence[Leg]) -> list[tuple[BalanceKey, int]]:
    """The running balances the legs move: every seller account of each (owner, currency)
    they touch, zero where a leg does not move it, in one fixed order (owner, currency, then
    `SELLER_ACCOUNTS` order). Taking a seller's whole book in every posting is what keeps the
    locks of two postings, or of two postings in one transaction, in the same order."""
    deltas: dict[tuple[uuid.UUID, str, int], int] = {}
    for leg in legs:
        if leg.owner_id is None:
            continue
        for rank in range(len(SELLER_ACCOUNTS)):
            deltas.setdefault((leg.owner_id, leg.currency, rank), 0)
        deltas[leg.owner_id, leg.currency, SELLER_ACCOUNTS.index(leg.account)] += leg.amount
    return [
        ((owner_id, SELLER_ACCOUNTS[rank], currency), delta)
        for (owner_id, currency, rank), delta in sorted(deltas.items())
    ]


async def lock_owner_balances(
    session: AsyncSession, owner_id: uuid.UUID, currency: str
) -> dict[Account, int]:
    """One seller's running balances in `currency`, row-locked until the transaction ends:
    whatever moves their money waits, and the balances read are the latest committed. Taken
    the way a posting takes them (the same statement, adding zero), so holding them and then
    posting cannot deadlock against another posting."""
    books = [((owner_id, account, currency), 0) for account in SELLER_ACCOUNTS]
    balances = await LedgerRepository(session).add_to_balances(books)
    return {account: balances[owner_id, account, currency] for account in SELLER_ACCOUNTS}


async def balance(
    session: AsyncSession,
    account: Account,
    currency: str,
    *,
    owner_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
) -> int:
    """The sum of an account's entries: for one order's share of it (a handful of entries)
    and for platform-wide accounts, which have no running balance. An owner's whole balance
    grows with their history: read it from `owner_balances`, kept running."""
    if owner_id is not None and order_id is None:
        raise ValueError("an owner's whole balance is read from owner_balances")
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
    """{(currency, account): balance} for every account of one seller: their running
    balances, a few rows however long their history."""
    rows = await LedgerRepository(session).balances_of(owner_id)
    return {(currency, account): balance for currency, account, balance in rows}
