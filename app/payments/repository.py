"""Ledger queries: the running balances, reconciliation (each returns the rows that break one
invariant), and a seller's statement."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, literal, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.payments.models import (
    ENTRY_TYPE_OF_KIND,
    Account,
    AccountBalance,
    LedgerEntry,
    LedgerEntryType,
    LedgerTransaction,
    ProviderOperation,
    ProviderOperationKind,
)
from app.payments.schemas import LedgerFilters

# Seller accounts that can never go below zero; seller_available can (a debt after refunds).
_NEVER_NEGATIVE = (
    Account.seller_pending,
    Account.seller_reserved,
    Account.payouts_in_transit,
)


BalanceKey = tuple[uuid.UUID, Account, str]
"""(owner id, account, currency): one running balance."""


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_to_balances(
        self, deltas: Sequence[tuple[BalanceKey, int]]
    ) -> dict[BalanceKey, int]:
        """Add each delta to its running balance (a missing row starts at zero) in one
        statement, taking the rows' locks in the order given; returns the new balances."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        rows_in = insert(AccountBalance).values(
            [
                {"owner_id": owner_id, "account": account, "currency": currency, "balance": delta}
                for (owner_id, account, currency), delta in deltas
            ]
        )
        upsert = rows_in.on_conflict_do_update(
            index_elements=[
                AccountBalance.owner_id,
                AccountBalance.account,
                AccountBalance.currency,
            ],
            set_={"balance": AccountBalance.balance + rows_in.excluded.balance},
        ).returning(
            AccountBalance.owner_id,
            AccountBalance.account,
            AccountBalance.currency,
            AccountBalance.balance,
        )
        rows = await self.session.execute(upsert)
        return {
            (owner_id, account, currency): balance for owner_id, account, currency, balance in rows
        }

    async def balances_of(self, owner_id: uuid.UUID) -> Sequence[Row[str, Account, int]]:
        """(currency, account, balance) of every running balance of one owner."""
        return (
            await self.session.execute(
                select(
                    AccountBalance.currency, AccountBalance.account, AccountBalance.balance
                ).where(AccountBalance.owner_id == owner_id)
            )
        ).all()

    async def drifted_balances(self) -> Sequence[Row[uuid.UUID, Account, str, int, int]]:
        """(owner, account, currency, running balance, sum of entries) wherever the two
        differ, including entries of seller accounts without a running balance and running
        balances without entries. One pass over both tables: each row contributes to one of
        two sums of its key."""
        both = union_all(
            select(
                AccountBalance.owner_id,
                AccountBalance.account,
                AccountBalance.currency,
                AccountBalance.balance.label("running"),
                literal(0).label("entries"),
            ),
            select(
                LedgerEntry.owner_id,
                LedgerEntry.account,
                LedgerEntry.currency,
                literal(0),
                LedgerEntry.amount,
            ).where(LedgerEntry.owner_id.is_not(None)),
        ).subquery()
        running, entries = func.sum(both.c.running), func.sum(both.c.entries)
        return (
            await self.session.execute(
                select(both.c.owner_id, both.c.account, both.c.currency, running, entries)
                .group_by(both.c.owner_id, both.c.account, both.c.currency)
                .having(running != entries)
            )
        ).all()

    async def unbalanced_transactions(self) -> Sequence[Row[uuid.UUID, str, int]]:
        """(transaction id, currency, sum) of transactions whose entries do not sum to zero."""
        total = func.sum(LedgerEntry.amount)
        return (
            await self.session.execute(
                select(LedgerEntry.transaction_id, LedgerEntry.currency, total)
                .group_by(LedgerEntry.transaction_id, LedgerEntry.currency)
                .having(total != 0)
            )
        ).all()

    async def currency_totals(self) -> Sequence[Row[str, int]]:
        """(currency, sum) over the whole ledger; every sum must be zero."""
        return (
            await self.session.execute(
                select(LedgerEntry.currency, func.sum(LedgerEntry.amount)).group_by(
                    LedgerEntry.currency
                )
            )
        ).all()

    async def money_left_on(
        self, account: Account, order_ids: Select[uuid.UUID]
    ) -> Sequence[Row[uuid.UUID | None, str, int]]:
        """(order id, currency, balance) of the given orders that still hold money in
        `account` (escrow, or a dispute's reserve)."""
        total = func.sum(LedgerEntry.amount)
        return (
            await self.session.execute(
                select(LedgerEntry.order_id, LedgerEntry.currency, total)
                .where(LedgerEntry.account == account, LedgerEntry.order_id.in_(order_ids))
                .group_by(LedgerEntry.order_id, LedgerEntry.currency)
                .having(total != 0)
            )
        ).all()

    async def negative_balances(self) -> Sequence[Row[Account, uuid.UUID | None, str, int]]:
        """(account, owner, currency, balance) of seller accounts below zero that may not
        be."""
        total = func.sum(LedgerEntry.amount)
        return (
            await self.session.execute(
                select(LedgerEntry.account, LedgerEntry.owner_id, LedgerEntry.currency, total)
                .where(LedgerEntry.account.in_(_NEVER_NEGATIVE))
                .group_by(LedgerEntry.account, LedgerEntry.owner_id, LedgerEntry.currency)
                .having(total < 0)
            )
        ).all()

    async def external_totals(self) -> dict[str, int]:
        """{currency: balance of the external account}."""
        rows = (
            await self.session.execute(
                select(LedgerEntry.currency, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.account == Account.external)
                .group_by(LedgerEntry.currency)
            )
        ).all()
        return {currency: int(total) for currency, total in rows}

    async def provider_net(self) -> dict[str, int]:
        """{currency: what the provider's book says the external account must be}: refunds
        and payouts out, minus captures in."""
        captured = func.sum(ProviderOperation.amount).filter(
            ProviderOperation.kind == ProviderOperationKind.capture
        )
        paid_out = func.sum(ProviderOperation.amount).filter(
            ProviderOperation.kind != ProviderOperationKind.capture
        )
        rows = (
            await self.session.execute(
                select(ProviderOperation.currency, captured, paid_out)
                .where(ProviderOperation.succeeded)
                .group_by(ProviderOperation.currency)
            )
        ).all()
        return {currency: int(out or 0) - int(into or 0) for currency, into, out in rows}


def _kind_matches(entry_types: frozenset[LedgerEntryType]) -> ColumnElement[bool]:
    kinds = [kind for kind, type_ in ENTRY_TYPE_OF_KIND.items() if type_ in entry_types]
    matches: ColumnElement[bool] = LedgerTransaction.kind.in_(kinds)
    if LedgerEntryType.adjustment in entry_types:
        matches = or_(matches, LedgerTransaction.kind.not_in(list(ENTRY_TYPE_OF_KIND)))
    return matches


def seller_statement(seller_id: uuid.UUID, filters: LedgerFilters) -> Select[Any]:
    """A seller's entries with their transaction's kind and payout, and the commission the
    platform took in the same transaction (a sale's), as rows of (entry, kind, payout id,
    commission)."""
    taken = aliased(LedgerEntry)
    commission = (
        select(func.sum(taken.amount))
        .where(
            taken.transaction_id == LedgerEntry.transaction_id,
            taken.account == Account.platform_commission,
        )
        .scalar_subquery()
    )
    statement = (
        select(LedgerEntry, LedgerTransaction.kind, LedgerTransaction.payout_id, commission)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.owner_id == seller_id)
    )
    if filters.created_after is not None:
        statement = statement.where(LedgerEntry.created_at >= filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(LedgerEntry.created_at < filters.created_before)
    if filters.order_id is not None:
        statement = statement.where(LedgerEntry.order_id == filters.order_id)
    if filters.payout_id is not None:
        statement = statement.where(LedgerTransaction.payout_id == filters.payout_id)
    if filters.entry_types:
        statement = statement.where(_kind_matches(filters.entry_types))
    return statement
