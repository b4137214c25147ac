"""A seller's money: balance, ledger entries and payouts."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AppSettings
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.idempotency import (
    IDEMPOTENCY_KEY_REQUIRED,
    IdempotencyDep,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from app.core.money import CurrencyNotSupported, Money, SignedMoney, require_currency
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page
from app.payments import service
from app.payments.models import LedgerEntry, Payout
from app.payments.schemas import BalanceRead, LedgerEntryRead, PayoutCreate, PayoutRead
from app.payments.service import InsufficientBalance
from app.sellers.dependencies import ActiveSeller, OwnSellerProfile
from app.sellers.exceptions import SellerRequired, SellerSuspended

router = APIRouter(
    prefix=f"{API_PREFIX}/sellers/me",
    tags=["payouts"],
    responses=error_responses(InvalidToken, SellerRequired),
)


def _entry(entry: LedgerEntry) -> LedgerEntryRead:
    return LedgerEntryRead(
        id=entry.id,
        transaction_id=entry.transaction_id,
        account=entry.account,
        order_id=entry.order_id,
        amount=SignedMoney(amount=entry.amount, currency=entry.currency),
        created_at=entry.created_at,
    )


def _payout(payout: Payout) -> PayoutRead:
    return PayoutRead(
        id=payout.id,
        amount=Money(amount=payout.amount, currency=payout.currency),
        status=payout.status,
        failure_reason=payout.failure_reason,
        created_at=payout.created_at,
        settled_at=payout.settled_at,
    )


@router.get("/balance", response_model=list[BalanceRead])
async def get_balance(
    seller: OwnSellerProfile, session: DbSession, settings: AppSettings
) -> list[BalanceRead]:
    """Your money per currency: pending (in the payout hold), available (or, after refunds
    beyond it, a debt recovered from your next sales before any payout), in transit, and
    reserved (proceeds of orders under dispute)."""
    found = {b.currency: b for b in await service.balances(session, seller.id)}
    found.setdefault(settings.currency, service.Balance(settings.currency, 0, 0, 0, 0))
    return [
        BalanceRead(
            currency=b.currency,
            pending=Money(amount=b.pending, currency=b.currency),
            available=Money(amount=max(b.available, 0), currency=b.currency),
            debt=Money(amount=max(-b.available, 0), currency=b.currency),
            in_transit=Money(amount=b.in_transit, currency=b.currency),
            reserved=Money(amount=b.reserved, currency=b.currency),
        )
        for b in sorted(found.values(), key=lambda b: b.currency)
    ]


@router.get(
    "/ledger", response_model=Page[LedgerEntryRead], responses=error_responses(InvalidCursor)
)
async def list_ledger_entries(
    seller: OwnSellerProfile, session: DbSession, page: PageQuery
) -> Page[LedgerEntryRead]:
    """Every movement of your money, newest first."""
    rows, next_cursor = await service.seller_entries(session, seller.id, page)
    return Page(items=[_entry(e) for e in rows], next_cursor=next_cursor)


@router.post(
    "/payouts",
    openapi_extra=IDEMPOTENCY_KEY_REQUIRED,
    status_code=status.HTTP_201_CREATED,
    response_model=PayoutRead,
    responses=error_responses(
        SellerSuspended,
        IdempotencyKeyRequired,
        IdempotencyKeyReused,
        InsufficientBalance,
        CurrencyNotSupported,
    ),
)
async def request_payout(
    body: PayoutCreate,
    seller: ActiveSeller,
    session: DbSession,
    settings: AppSettings,
    idempotency: IdempotencyDep,
) -> PayoutRead | JSONResponse:
    """Pay out available money to your bank account. It is `pending` until the worker
    settles it with the provider: `paid`, or `failed` (the money returns to available).
    Requires an `Idempotency-Key`."""

    async def produce() -> PayoutRead:
        amount = require_currency(body.amount, settings.currency)
        return _payout(await service.request_payout(session, settings, seller.id, amount))

    return await idempotency.run(
        scope=str(seller.user_id),
        status_code=201,
        response_model=PayoutRead,
        produce=produce,
    )


@router.get("/payouts", response_model=Page[PayoutRead], responses=error_responses(InvalidCursor))
async def list_payouts(
    seller: OwnSellerProfile, session: DbSession, page: PageQuery
) -> Page[PayoutRead]:
    """Your payouts, newest first."""
    rows, next_cursor = await service.payouts_of(session, seller.id, page)
    return Page(items=[_payout(p) for p in rows], next_cursor=next_cursor)
