"""Money movements between buyers, escrow, sellers and the platform. Each function posts one
balanced ledger transaction in the caller's unit of work."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core import outbox
from app.core.clock import now
from app.core.money import Money, format_money, require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.fees.commission import CommissionTerms
from app.payments import ledger
from app.payments.events import PayoutEventType
from app.payments.exceptions import InsufficientBalance, PayoutNotFound
from app.payments.ledger import Leg
from app.payments.models import (
    ENTRY_TYPE_OF_KIND,
    Account,
    LedgerEntry,
    LedgerEntryType,
    Payout,
    PayoutStatus,
)
from app.payments.provider import PaymentProvider
from app.payments.repository import seller_statement
from app.payments.schemas import LedgerFilters
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile


@dataclass(frozen=True, slots=True)
class OrderMoney:
    """An order's amounts, as the ledger splits its escrow and its refunds. A refund draws on
    the goods first and on the protection fee last: the fee goes back only with a refund of
    everything the buyer paid for the goods."""

    order_id: uuid.UUID
    seller_id: uuid.UUID
    currency: str
    goods: int
    """Minor units: what the buyer paid for the goods and shipping, after discounts."""
    fee: int
    """Minor units: the buyer protection fee."""
    refunded: int
    """Minor units: given back to the buyer so far."""

    @property
    def goods_left(self) -> int:
        return self.goods - min(self.refunded, self.goods)

    @property
    def fee_left(self) -> int:
        return self.fee - (self.refunded - min(self.refunded, self.goods))

    def split(self, amount: int) -> tuple[int, int]:
        """A refund of `amount`: (its part for the goods, its part of the fee)."""
        goods_part = min(amount, self.goods_left)
        return goods_part, amount - goods_part


@dataclass(frozen=True, slots=True)
class EscrowShare:
    order_id: uuid.UUID
    amount: int
    """Minor units the buyer pays for the order."""
    subsidy: int = 0
    """Minor units the platform adds: the discounts it funds."""


async def capture_into_escrow(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    token: str,
    currency: str,
    reference: str,
    shares: list[EscrowShare],
) -> None:
    """Charge the buyer once for all orders of a checkout; each order's share sits in escrow,
    with what the platform pays for the discounts it funds (so escrow holds what the order
    sold for, as if there were no platform discount)."""
    total = sum(s.amount for s in shares)
    if total:  # a checkout the platform's discounts paid in full charges the buyer nothing
        await provider.capture(
            session, token=token, amount=total, currency=currency, reference=reference
        )
    await ledger.post(
        session,
        "payment",
        [
            Leg(Account.external, -total, currency),
            *(
                Leg(Account.escrow, s.amount + s.subsidy, currency, order_id=s.order_id)
                for s in shares
            ),
            *(
                Leg(Account.platform_promotions, -s.subsidy, currency, order_id=s.order_id)
                for s in shares
                if s.subsidy
            ),
        ],
        memo=reference,
    )


async def release_escrow(
    session: AsyncSession,
    settings: Settings,
    money: OrderMoney,
    commission: CommissionTerms,
) -> int:
    """Completion: the order's escrow goes to the seller, less the commission by its terms
    on what was not refunded and the protection fee the buyer kept paying for, which are the
    platform's. Returns the seller's net. With no payout hold the money is available at
    once."""
    order_id, currency = money.order_id, money.currency
    held = await ledger.balance(session, Account.escrow, currency, order_id=order_id)
    fee = min(money.fee_left, held)
    taken = min(commission.due(money.goods_left, money.goods), held - fee)
    net = held - fee - taken
    destination = Account.seller_available if not settings.payout_hold else Account.seller_pending
    await ledger.post(
        session,
        "completion",
        [
            Leg(Account.escrow, -held, currency, order_id=order_id),
            Leg(destination, net, currency, owner_id=money.seller_id, order_id=order_id),
            Leg(Account.platform_commission, taken, currency, order_id=order_id),
            Leg(Account.platform_fees, fee, currency, order_id=order_id),
        ],
        order_id=order_id,
    )
    return net


async def release_hold(
    session: AsyncSession, *, order_id: uuid.UUID, seller_id: uuid.UUID, currency: str
) -> int:
    """After the payout hold: the order's pending proceeds become available."""
    pending = await ledger.balance(
        session, Account.seller_pending, currency, owner_id=seller_id, order_id=order_id
    )
    if pending:
        await ledger.post(
            session,
            "hold_released",
            [
                Leg(
                    Account.seller_pending,
                    -pending,
                    currency,
                    owner_id=seller_id,
                    order_id=order_id,
                ),
                Leg(
                    Account.seller_available,
                    pending,
                    currency,
                    owner_id=seller_id,
                    order_id=order_id,
                ),
            ],
            order_id=order_id,
        )
    return pending


async def refund_escrow(
    session: AsyncSession,
    provider: PaymentProvider,
    money: OrderMoney,
    *,
    amount: int,
    reference: str,
) -> None:
    """Give the buyer `amount` back out of the order's escrow, through the provider. The
    platform takes back the same share of what it paid in for its discounts as the refund
    is of the goods not yet refunded."""
    order_id, currency = money.order_id, money.currency
    goods_part, _ = money.split(amount)
    subsidy_back = share(await _subsidy_left(session, money), goods_part, money.goods_left)
    if amount:
        await provider.refund(session, amount=amount, currency=currency, reference=reference)
    await ledger.post(
        session,
        "refund",
        [
            Leg(Account.escrow, -(amount + subsidy_back), currency, order_id=order_id),
            Leg(Account.external, amount, currency),
            Leg(Account.platform_promotions, subsidy_back, currency, order_id=order_id),
        ],
        order_id=order_id,
        memo=reference,
    )


async def _subsidy_left(session: AsyncSession, money: OrderMoney) -> int:
    """What the platform paid for its discounts on the order and has not taken back."""
    return -await ledger.balance(
        session, Account.platform_promotions, money.currency, order_id=money.order_id
    )


# --- disputes and returns after the escrow was released ------------------------------------


async def reserve_proceeds(
    session: AsyncSession, *, order_id: uuid.UUID, seller_id: uuid.UUID, currency: str
) -> int:
    """A dispute about a completed order freezes what the seller got for it, wherever it is
    (pending or available; if already paid out, available goes below zero: a debt)."""
    legs = [
        Leg(account, -amount, currency, owner_id=seller_id, order_id=order_id)
        for account in (Account.seller_pending, Account.seller_available)
        if (amount := await _order_share(session, account, currency, seller_id, order_id))
    ]
    frozen = -sum(leg.amount for leg in legs)
    if frozen:
        legs.append(Leg(Account.seller_reserved, frozen, currency, seller_id, order_id))
        await ledger.post(session, "dispute_reserve", legs, order_id=order_id)
    return frozen


async def release_reserve(
    session: AsyncSession,
    *,
    order_id: uuid.UUID,
    seller_id: uuid.UUID,
    currency: str,
    still_held: bool,
) -> int:
    """What a resolved dispute left of the frozen proceeds goes back to the seller: pending
    if the payout hold has not passed yet, else available."""
    reserved = await _order_share(session, Account.seller_reserved, currency, seller_id, order_id)
    if reserved:
        back_to = Account.seller_pending if still_held else Account.seller_available
        await ledger.post(
            session,
            "dispute_release",
            [
                Leg(Account.seller_reserved, -reserved, currency, seller_id, order_id),
                Leg(back_to, reserved, currency, seller_id, order_id),
            ],
            order_id=order_id,
        )
    return reserved


@dataclass(frozen=True, slots=True)
class TakenBack:
    """What a refund of known lines takes back: their own share of the order's commission
    and of the platform's discount subsidy (minor units), rather than the order's."""

    commission: int
    subsidy: int


async def refund_proceeds(
    session: AsyncSession,
    provider: PaymentProvider,
    money: OrderMoney,
    *,
    amount: int,
    reference: str,
    taken_back: TakenBack | None = None,
) -> None:
    """Refund `amount` of a completed order (escrow long released). The platform returns the
    same share of its remaining commission as the refund is of the goods not yet refunded,
    and the protection fee's part of the refund, if any; the seller pays the rest of the
    goods' part and gives back the same share of the platform's discount subsidy, from the
    order's frozen proceeds first, then its pending ones, then the available balance, which
    may go below zero (a debt that later sales pay off before any payout). With
    `taken_back` (a return of known lines) the commission and subsidy shares are those
    lines' own, unless the refund is of everything left."""
    order_id, currency, seller_id = money.order_id, money.currency, money.seller_id
    goods_part, fee_part = money.split(amount)
    commission_left = await ledger.balance(
        session, Account.platform_commission, currency, order_id=order_id
    )
    subsidy_left = await _subsidy_left(session, money)
    if taken_back is None or goods_part >= money.goods_left:
        commission_back = share(commission_left, goods_part, money.goods_left)
        subsidy_back = share(subsidy_left, goods_part, money.goods_left)
    else:
        commission_back = min(taken_back.commission, commission_left)
        subsidy_back = min(taken_back.subsidy, subsidy_left)
    owed = goods_part - commission_back + subsidy_back
    legs = [
        Leg(Account.external, amount, currency),
        Leg(Account.platform_commission, -commission_back, currency, order_id=order_id),
        Leg(Account.platform_fees, -fee_part, currency, order_id=order_id),
        Leg(Account.platform_promotions, subsidy_back, currency, order_id=order_id),
    ]
    for account in (Account.seller_reserved, Account.seller_pending):
        on_account = await _order_share(session, account, currency, seller_id, order_id)
        taken = min(max(on_account, 0), owed)
        legs.append(Leg(account, -taken, currency, seller_id, order_id))
        owed -= taken
    legs.append(Leg(Account.seller_available, -owed, currency, seller_id, order_id))
    await provider.refund(session, amount=amount, currency=currency, reference=reference)
    await ledger.post(session, "refund", legs, order_id=order_id, memo=reference)


def share(total: int, part: int, whole: int) -> int:
    """`total` * part / whole, rounded half up; all of `total` when part is the whole."""
    if part >= whole:
        return total
    return int((Decimal(total) * part / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def _order_share(
    session: AsyncSession,
    account: Account,
    currency: str,
    seller_id: uuid.UUID,
    order_id: uuid.UUID,
) -> int:
    return await ledger.balance(session, account, currency, owner_id=seller_id, order_id=order_id)


# --- seller balances and payouts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    pending: int
    available: int
    in_transit: int
    reserved: int


async def balances(
    session: AsyncSession, seller_id: uuid.UUID, *, including: str | None = None
) -> list[Balance]:
    """The seller's money per currency, by currency; `including` is listed (at zero) even
    where the seller never had any money in it."""
    by_account = await ledger.owner_balances(session, seller_id)
    currencies = {currency for currency, _ in by_account}
    if including is not None:
        currencies.add(including)
    return [
        Balance(
            currency=c,
            pending=by_account.get((c, Account.seller_pending), 0),
            available=by_account.get((c, Account.seller_available), 0),
            in_transit=by_account.get((c, Account.payouts_in_transit), 0),
            reserved=by_account.get((c, Account.seller_reserved), 0),
        )
        for c in sorted(currencies)
    ]


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One of a seller's ledger entries with what its transaction says about it."""

    entry: LedgerEntry
    entry_type: LedgerEntryType
    payout_id: uuid.UUID | None
    commission: int | None
    """A sale's commission (minor units, positive); None for other entries."""


_NEWEST_ENTRY_FIRST = [SortKey(LedgerEntry.id, descending=True)]
_EXPORT_BATCH = 500


def _lines(rows: list[Any]) -> list[StatementLine]:
    lines = []
    for entry, kind, payout_id, commission in (tuple(row)[:4] for row in rows):
        entry_type = ENTRY_TYPE_OF_KIND.get(kind, LedgerEntryType.adjustment)
        taken = int(commission or 0) if entry_type is LedgerEntryType.sale else None
        lines.append(StatementLine(entry, entry_type, payout_id, taken))
    return lines


async def seller_entries(
    session: AsyncSession, seller_id: uuid.UUID, page: PageParams, filters: LedgerFilters
) -> tuple[list[StatementLine], str | None]:
    """A page of the seller's statement, newest first."""
    statement = seller_statement(seller_id, filters)
    rows, next_cursor = await paginate(
        session, statement, keys=_NEWEST_ENTRY_FIRST, page=page, tag="ledger"
    )
    return _lines(rows), next_cursor


async def all_seller_entries(
    session: AsyncSession, seller_id: uuid.UUID, filters: LedgerFilters
) -> AsyncIterator[list[StatementLine]]:
    """The whole statement, newest first, a batch at a time (for an export streamed while
    it is read: a long statement is never held in memory at once)."""
    statement = seller_statement(seller_id, filters)
    cursor: str | None = None
    while True:
        rows, cursor = await paginate(
            session,
            statement,
            keys=_NEWEST_ENTRY_FIRST,
            page=PageParams(limit=_EXPORT_BATCH, cursor=cursor),
            tag="ledger",
        )
        if rows:
            yield _lines(rows)
        if cursor is None:
            return


async def request_payout(
    session: AsyncSession, seller: SellerProfile, amount: Money, *, settings: Settings
) -> Payout:
    """Move available money (in the platform's currency) into transit; the worker settles it
    with the provider."""
    currency = settings.currency
    wanted = require_currency(amount, currency)
    seller_id = seller.id
    # The seller's balance rows stay locked until the payout commits: two requests cannot
    # both spend the same available balance, and no refund or dispute can take from it
    # between this check and the posting.
    balances = await ledger.lock_owner_balances(session, seller_id, currency)
    available = balances[Account.seller_available]
    if wanted > available:
        raise InsufficientBalance(
            f"available: {format_money(max(available, 0), currency)}, "
            f"requested: {format_money(wanted, currency)}",
            extra={
                "available": Money(amount=max(available, 0), currency=currency).model_dump(),
                "requested": Money(amount=wanted, currency=currency).model_dump(),
                "debt": Money(amount=max(-available, 0), currency=currency).model_dump(),
            },
        )
    payout = Payout(
        seller_id=seller_id, amount=wanted, currency=currency, status=PayoutStatus.pending
    )
    session.add(payout)
    await session.flush()
    await ledger.post(
        session,
        "payout_requested",
        [
            Leg(Account.seller_available, -wanted, currency, owner_id=seller_id),
            Leg(Account.payouts_in_transit, wanted, currency, owner_id=seller_id),
        ],
        payout_id=payout.id,
    )
    return payout


async def settle_payout(session: AsyncSession, provider: PaymentProvider, payout: Payout) -> None:
    """pending → paid (money leaves) or failed (money returns to available)."""
    account = await seller_service.payout_account(session, payout.seller_id)
    paid = await provider.payout(
        session,
        account=account,
        amount=payout.amount,
        currency=payout.currency,
        reference=f"payout:{payout.id}",
    )
    back_to = Account.external if paid else Account.seller_available
    await ledger.post(
        session,
        "payout_paid" if paid else "payout_failed",
        [
            Leg(
                Account.payouts_in_transit,
                -payout.amount,
                payout.currency,
                owner_id=payout.seller_id,
            ),
            Leg(
                back_to,
                payout.amount,
                payout.currency,
                owner_id=None if paid else payout.seller_id,
            ),
        ],
        payout_id=payout.id,
    )
    payout.status = PayoutStatus.paid if paid else PayoutStatus.failed
    payout.failure_reason = None if paid else "the bank refused the transfer"
    payout.settled_at = now()
    await session.flush()
    await outbox.emit(
        session,
        PayoutEventType.paid if paid else PayoutEventType.failed,
        seller_id=payout.seller_id,
        data={
            "payout_id": payout.id,
            "seller_id": payout.seller_id,
            "amount": {"amount": payout.amount, "currency": payout.currency},
            "failure_reason": payout.failure_reason,
        },
    )


async def get_payout(session: AsyncSession, seller_id: uuid.UUID, payout_id: uuid.UUID) -> Payout:
    """One of the seller's payouts; anyone else's is a 404, decided by the query."""
    payout = await session.scalar(
        select(Payout).where(Payout.id == payout_id, Payout.seller_id == seller_id)
    )
    if payout is None:
        raise PayoutNotFound()
    return payout


async def payouts_of(
    session: AsyncSession, seller_id: uuid.UUID, page: PageParams
) -> tuple[list[Payout], str | None]:
    statement = select(Payout).where(Payout.seller_id == seller_id)
    return await paginate(session, statement, keys=[SortKey(Payout.id, descending=True)], page=page)
