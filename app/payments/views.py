"""Presenters: a seller's balances, ledger entries and payouts as the API shows them."""

from collections.abc import Sequence

from app.core.money import Money, SignedMoney
from app.payments.models import LedgerEntry, Payout
from app.payments.schemas import BalanceRead, LedgerEntryRead, PayoutRead
from app.payments.service import Balance


def balances_to_read(balances: Sequence[Balance]) -> list[BalanceRead]:
    """A negative available balance shows as a debt, available then being zero."""
    return [
        BalanceRead(
            currency=b.currency,
            pending=Money(amount=b.pending, currency=b.currency),
            available=Money(amount=max(b.available, 0), currency=b.currency),
            debt=Money(amount=max(-b.available, 0), currency=b.currency),
            in_transit=Money(amount=b.in_transit, currency=b.currency),
            reserved=Money(amount=b.reserved, currency=b.currency),
        )
        for b in balances
    ]


def entry_to_read(entry: LedgerEntry) -> LedgerEntryRead:
    return LedgerEntryRead(
        id=entry.id,
        transaction_id=entry.transaction_id,
        account=entry.account,
        order_id=entry.order_id,
        amount=SignedMoney(amount=entry.amount, currency=entry.currency),
        created_at=entry.created_at,
    )


def payout_to_read(payout: Payout) -> PayoutRead:
    return PayoutRead(
        id=payout.id,
        amount=Money(amount=payout.amount, currency=payout.currency),
        status=payout.status,
        failure_reason=payout.failure_reason,
        created_at=payout.created_at,
        settled_at=payout.settled_at,
    )
