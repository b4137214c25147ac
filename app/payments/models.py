import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, enum_column


class Account(StrEnum):
    """Ledger accounts, as buckets of money. A movement takes an amount out of one bucket
    (negative entry) and puts it into others (positive entries); every transaction sums to zero
    per currency, so the ledger as a whole always does. A bucket's balance is the money in it;
    `external` is the world outside, negative by what it has paid in."""

    external = "external"
    """The world outside: payments come from it, refunds and payouts go back to it."""
    escrow = "escrow"
    """Buyers' money the platform holds for an order (entries carry the order id)."""
    seller_pending = "seller_pending"
    """A seller's proceeds still inside the payout hold."""
    seller_available = "seller_available"
    """A seller's money that can be paid out (negative: debt recovered from future sales)."""
    seller_reserved = "seller_reserved"
    """A completed order's proceeds frozen while a dispute about it is open."""
    payouts_in_transit = "payouts_in_transit"
    """Requested payouts not yet settled by the provider."""
    platform_commission = "platform_commission"
    """The platform's revenue from commission (entries carry the order id)."""
    platform_fees = "platform_fees"
    """The platform's revenue from buyer protection fees (entries carry the order id)."""
    platform_promotions = "platform_promotions"
    """What the platform spends on the discounts it funds: negative by what it has paid
    into escrow for them, less what refunds took back (entries carry the order id)."""


SELLER_ACCOUNTS: tuple[Account, ...] = (
    Account.seller_pending,
    Account.seller_available,
    Account.seller_reserved,
    Account.payouts_in_transit,
)
"""The accounts a seller owns (their entries carry `owner_id`; no other account's do), in
the one order their running balances are locked in (see `AccountBalance`)."""


class LedgerEntryType(StrEnum):
    """What a seller's ledger entry is, as the seller reads it: derived from its transaction's
    `kind` (see `ENTRY_TYPE_OF_KIND`)."""

    sale = "sale"
    """A completed order's proceeds, after the platform's commission."""
    hold_release = "hold_release"
    """Proceeds leaving the payout hold: out of pending, into available."""
    refund = "refund"
    """Money given back to a buyer out of the seller's proceeds (may leave a debt)."""
    dispute_hold = "dispute_hold"
    """Proceeds frozen while a dispute about the order is open."""
    dispute_release = "dispute_release"
    """Frozen proceeds given back after the dispute."""
    payout = "payout"
    """A payout requested: out of available, into transit."""
    payout_paid = "payout_paid"
    """The payout reached the bank account: out of transit."""
    payout_failed = "payout_failed"
    """The payout was refused: out of transit, back into available."""
    adjustment = "adjustment"
    """Any other movement."""


ENTRY_TYPE_OF_KIND: dict[str, LedgerEntryType] = {
    "completion": LedgerEntryType.sale,
    "hold_released": LedgerEntryType.hold_release,
    "refund": LedgerEntryType.refund,
    "dispute_reserve": LedgerEntryType.dispute_hold,
    "dispute_release": LedgerEntryType.dispute_release,
    "payout_requested": LedgerEntryType.payout,
    "payout_paid": LedgerEntryType.payout_paid,
    "payout_failed": LedgerEntryType.payout_failed,
}
"""Transaction kind → entry type; a kind not listed is an `adjustment`."""


class LedgerTransaction(IdMixin, Base):
    """One money movement; its entries sum to zero per currency. Append-only."""

    __tablename__ = "ledger_transactions"

    kind: Mapped[str] = mapped_column(String(32))
    """payment, completion, release, refund, payout, payout_failed, ..."""
    order_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    payout_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    memo: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


class LedgerEntry(IdMixin, Base):
    """One leg of a transaction. Append-only: a correction is a new transaction."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_owner_account", "owner_id", "account", "currency"),
        Index("ix_ledger_entries_account_order", "account", "order_id"),
    )

    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id"), index=True
    )
    account: Mapped[Account] = mapped_column(enum_column(Account, "ledger_account"))
    owner_id: Mapped[uuid.UUID | None]
    """The seller whose account this is (seller accounts only)."""
    order_id: Mapped[uuid.UUID | None]
    """The order the money belongs to (escrow entries always carry it)."""
    amount: Mapped[int] = mapped_column(BigInteger)
    """Minor units; positive into the account, negative out of it."""
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=now)


class AccountBalance(Base):
    """The running balance of one seller account: the sum of its entries, kept current by
    `ledger.post` in the posting's own transaction, so a seller's balance is read in constant
    time however long their history. The entries stay the truth; reconcile checks every row
    against their sum.

    Only owned accounts have rows. Platform-wide accounts (escrow, external, the platform's
    commission) have none: one shared row would be locked by every payment on the platform,
    serialising them all. Their balances, like one order's escrow, stay sums of entries: an
    order's history is a handful of rows, and a platform total is read only by reconcile.

    Locking: a posting upserts every one of its seller's accounts in that currency (zero for
    those it does not move), in `SELLER_ACCOUNTS` order, in one statement. Two postings for one
    seller therefore take the same rows in the same order and never deadlock, also when one
    transaction posts twice (a dispute's refund, then its reserve's release); the upsert's row
    lock adds to the latest committed balance, so no update is lost."""

    __tablename__ = "account_balances"

    owner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account: Mapped[Account] = mapped_column(
        enum_column(Account, "ledger_account"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
    """Minor units: the sum of the account's entries (negative only for seller_available: a
    debt)."""


class ProviderOperationKind(StrEnum):
    capture = "capture"
    refund = "refund"
    payout = "payout"


class ProviderOperation(IdMixin, Base):
    """The sandbox provider's own book of what it did (what a real provider's dashboard
    shows); reconciliation compares the ledger against it."""

    __tablename__ = "provider_operations"

    kind: Mapped[ProviderOperationKind] = mapped_column(
        enum_column(ProviderOperationKind, "provider_operation_kind")
    )
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    """Our idempotency reference: the same reference never moves money twice."""
    amount: Mapped[int] = mapped_column(BigInteger)
    """Minor units, positive."""
    currency: Mapped[str] = mapped_column(String(3))
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=now)


class PayoutStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    failed = "failed"


class Payout(IdMixin, Base):
    __tablename__ = "payouts"
    __table_args__ = (Index("ix_payouts_status_id", "status", "id"),)

    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    """Minor units, positive."""
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PayoutStatus] = mapped_column(enum_column(PayoutStatus, "payout_status"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    settled_at: Mapped[datetime | None]
