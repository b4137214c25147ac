"""Ledger queries for reconciliation: each returns the rows that break one invariant."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.payments.models import Account, LedgerEntry, ProviderOperation, ProviderOperationKind

# Seller accounts that can never go below zero; seller_available can (a debt after refunds).
_NEVER_NEGATIVE = (
    Account.seller_pending,
    Account.seller_reserved,
    Account.payouts_in_transit,
)


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
