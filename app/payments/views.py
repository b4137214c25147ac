"""Presenters: a seller's balances, statement (as JSON and as CSV) and payouts as the API
shows them."""

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence

from app.core.money import Money, SignedMoney, format_money
from app.core.schemas import ActionRead
from app.payments.models import Account, LedgerEntryType, Payout
from app.payments.schemas import BalanceRead, CurrencyBalanceRead, LedgerEntryRead, PayoutRead
from app.payments.service import Balance, StatementLine

REQUEST_PAYOUT = "request_payout"


def _currency_balance(b: Balance) -> CurrencyBalanceRead:
    """A negative available balance shows as a debt, available then being zero."""
    return CurrencyBalanceRead(
        currency=b.currency,
        pending=Money(amount=b.pending, currency=b.currency),
        available=Money(amount=max(b.available, 0), currency=b.currency),
        debt=Money(amount=max(-b.available, 0), currency=b.currency),
        in_transit=Money(amount=b.in_transit, currency=b.currency),
        reserved=Money(amount=b.reserved, currency=b.currency),
    )


def balance_read(
    balances: Sequence[Balance], *, platform_currency: str, may_be_paid: bool
) -> BalanceRead:
    """The platform currency's balance (which `balances` always holds) on top, every
    currency's below it, the platform's first."""
    ordered = sorted(balances, key=lambda b: (b.currency != platform_currency, b.currency))
    main = ordered[0]
    actions = [REQUEST_PAYOUT] if may_be_paid and main.available > 0 else []
    return BalanceRead(
        **_currency_balance(main).model_dump(),
        by_currency=[_currency_balance(b) for b in ordered],
        allowed_actions=actions,
        actions=[ActionRead(name=name, deadline=None) for name in actions],
    )


def _describe(line: StatementLine) -> str:
    entry = line.entry
    if line.entry_type is LedgerEntryType.sale:
        if line.commission:
            gross = format_money(entry.amount + line.commission, entry.currency)
            taken = format_money(line.commission, entry.currency)
            return f"Sale: {gross}, less {taken} commission"
        return "Sale"
    if line.entry_type is LedgerEntryType.hold_release:
        if entry.account is Account.seller_pending:
            return "Proceeds out of the payout hold"
        return "Proceeds released from the payout hold, now available"
    if line.entry_type is LedgerEntryType.refund:
        if entry.account is Account.seller_available:
            return "Refund to the buyer, taken from your available balance"
        return "Refund to the buyer, taken from the order's proceeds"
    return _DESCRIPTIONS[line.entry_type]


_DESCRIPTIONS = {
    LedgerEntryType.dispute_hold: "Proceeds frozen while a dispute is open",
    LedgerEntryType.dispute_release: "Frozen proceeds released after the dispute",
    LedgerEntryType.payout: "Payout requested",
    LedgerEntryType.payout_paid: "Payout sent to your bank account",
    LedgerEntryType.payout_failed: "Payout failed: the money is back in your balance",
    LedgerEntryType.adjustment: "Adjustment",
}


def entry_to_read(line: StatementLine) -> LedgerEntryRead:
    entry = line.entry
    sale = line.entry_type is LedgerEntryType.sale and line.commission is not None
    return LedgerEntryRead(
        id=entry.id,
        transaction_id=entry.transaction_id,
        account=entry.account,
        entry_type=line.entry_type,
        description=_describe(line),
        order_id=entry.order_id,
        payout_id=line.payout_id,
        amount=SignedMoney(amount=entry.amount, currency=entry.currency),
        gross=(
            Money(amount=entry.amount + (line.commission or 0), currency=entry.currency)
            if sale and entry.amount >= 0
            else None
        ),
        commission=(Money(amount=line.commission or 0, currency=entry.currency) if sale else None),
        created_at=entry.created_at,
    )


CSV_COLUMNS = (
    "created_at",
    "entry_type",
    "description",
    "account",
    "amount",
    "currency",
    "amount_minor",
    "order_id",
    "payout_id",
    "transaction_id",
    "entry_id",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: one starting like a formula is prefixed with
    an apostrophe (OWASP's CSV injection advice). Numbers are written by us, never text."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _csv_row(line: StatementLine) -> list[str]:
    entry = line.entry
    decimal = format_money(entry.amount, entry.currency).split(" ")[0]
    return [
        entry.created_at.isoformat(),
        _cell(line.entry_type.value),
        _cell(_describe(line)),
        _cell(entry.account.value),
        decimal,
        _cell(entry.currency),
        str(entry.amount),
        str(entry.order_id or ""),
        str(line.payout_id or ""),
        str(entry.transaction_id),
        str(entry.id),
    ]


def _encoded(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


async def statement_csv(batches: AsyncIterator[list[StatementLine]]) -> AsyncIterator[bytes]:
    """The statement as CSV (RFC 4180, UTF-8, a header line), encoded batch by batch as
    the batches are read."""
    yield _encoded([list(CSV_COLUMNS)])
    async for batch in batches:
        yield _encoded(_csv_row(line) for line in batch)


def payout_to_read(payout: Payout) -> PayoutRead:
    return PayoutRead(
        id=payout.id,
        amount=Money(amount=payout.amount, currency=payout.currency),
        status=payout.status,
        failure_reason=payout.failure_reason,
        created_at=payout.created_at,
        settled_at=payout.settled_at,
    )
