import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.core.money import Money, MoneyAboveZero, SignedMoney
from app.core.schemas import ActionRead, RequestSchema, Schema
from app.payments.models import Account, LedgerEntryType, PayoutStatus


class CurrencyBalanceRead(Schema):
    currency: str
    pending: Money = Field(description="Proceeds still inside the payout hold")
    available: Money = Field(description="Can be paid out")
    debt: Money = Field(description="Owed to the platform (after refunds), recovered from sales")
    in_transit: Money = Field(description="Payouts requested, not yet settled")
    reserved: Money = Field(description="Proceeds of disputed orders, frozen until resolved")


class BalanceRead(CurrencyBalanceRead):
    """The seller's money in the platform's currency (`currency`, the one payouts are made
    in), and in every currency they have money in (`by_currency`, the platform's first)."""

    by_currency: list[CurrencyBalanceRead] = Field(
        description="Every currency the seller has money in, the platform's currency first"
    )
    allowed_actions: list[str] = Field(
        description="`request_payout` when money is available and the shop may be paid"
    )
    actions: list[ActionRead] = Field(description="The same actions, each with its deadline")


class LedgerEntryRead(Schema):
    id: uuid.UUID
    transaction_id: uuid.UUID
    account: Account
    entry_type: LedgerEntryType = Field(description="What the movement is")
    description: str = Field(description="The movement in words, for a statement's line")
    order_id: uuid.UUID | None = Field(description="The order the money belongs to")
    payout_id: uuid.UUID | None = Field(description="The payout it belongs to")
    amount: SignedMoney = Field(description="Positive into the account, negative out of it")
    gross: Money | None = Field(
        description="`sale`: what the order brought before commission (null otherwise)"
    )
    commission: Money | None = Field(
        description="`sale`: the platform's commission taken from it (null otherwise)"
    )
    created_at: datetime


class PayoutCreate(RequestSchema):
    amount: MoneyAboveZero


class PayoutRead(Schema):
    id: uuid.UUID
    amount: Money
    status: PayoutStatus
    failure_reason: str | None
    created_at: datetime
    settled_at: datetime | None


class ReconcileCheck(StrEnum):
    """An invariant of the money that reconcile checks. `transaction_balanced`: every
    transaction's entries sum to zero per currency. `ledger_sums_to_zero`: so does the whole
    ledger. `no_escrow_on_closed_orders`: a closed order holds nothing in escrow.
    `no_reserve_without_dispute`: only an order under dispute holds a reserve.
    `no_negative_balance`: no seller account but `seller_available` (a debt) is below zero.
    `running_balance_agrees`: every seller account's running balance (what balances and
    payouts read) equals the sum of its entries. `provider_agrees`: the external account
    agrees with the payment provider's book."""

    transaction_balanced = "transaction_balanced"
    ledger_sums_to_zero = "ledger_sums_to_zero"
    no_escrow_on_closed_orders = "no_escrow_on_closed_orders"
    no_reserve_without_dispute = "no_reserve_without_dispute"
    no_negative_balance = "no_negative_balance"
    running_balance_agrees = "running_balance_agrees"
    provider_agrees = "provider_agrees"


class Violation(Schema):
    check: ReconcileCheck = Field(description="The invariant violated")
    detail: str = Field(description="Where, in words")


class ReconcileReport(Schema):
    """The ledger checked against its invariants (`ReconcileCheck`): `ok` when none is
    violated."""

    ok: bool
    checked_at: datetime
    violations: list[Violation]


@dataclass(frozen=True, slots=True)
class LedgerFilters:
    """What a seller's statement is narrowed to (every field optional)."""

    created_after: datetime | None = None
    """Entries at or after this moment."""
    created_before: datetime | None = None
    """Entries strictly before this moment."""
    order_id: uuid.UUID | None = None
    payout_id: uuid.UUID | None = None
    entry_types: frozenset[LedgerEntryType] = frozenset()
    """Any of these (none given: all)."""
