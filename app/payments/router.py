"""A seller's money: balance, ledger entries and payouts."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.idempotency import (
    IDEMPOTENCY_KEY_REQUIRED,
    IdempotencyDep,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from app.core.money import CurrencyNotSupported
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of
from app.payments import service, views
from app.payments.exceptions import InsufficientBalance
from app.payments.schemas import BalanceRead, LedgerEntryRead, PayoutCreate, PayoutRead
from app.sellers.dependencies import ActiveSeller, OwnSellerProfile
from app.sellers.exceptions import SellerRequired, SellerSuspended

router = APIRouter(
    prefix=f"{API_PREFIX}/sellers/me",
    tags=["payouts"],
    responses=error_responses(InvalidToken, SellerRequired),
)


@router.get("/balance", response_model=list[BalanceRead])
async def get_balance(
    seller: OwnSellerProfile, session: DbSession, settings: AppSettings
) -> list[BalanceRead]:
    """Your money per currency: pending (in the payout hold), available (or, after refunds
    beyond it, a debt recovered from your next sales before any payout), in transit, and
    reserved (proceeds of orders under dispute)."""
    balances = await service.balances(session, seller.id, including=settings.currency)
    return views.balances_to_read(balances)


@router.get(
    "/ledger", response_model=Page[LedgerEntryRead], responses=error_responses(InvalidCursor)
)
async def list_ledger_entries(
    seller: OwnSellerProfile, session: DbSession, page: PageQuery
) -> Page[LedgerEntryRead]:
    """Every movement of your money, newest first."""
    entries, next_cursor = await service.seller_entries(session, seller.id, page)
    return page_of(entries, next_cursor, views.entry_to_read)


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
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    idempotency: IdempotencyDep,
) -> PayoutRead | JSONResponse:
    """Pay out available money to your bank account. It is `pending` until the worker
    settles it with the provider: `paid`, or `failed` (the money returns to available).
    Requires an `Idempotency-Key`."""

    async def produce() -> PayoutRead:
        payout = await service.request_payout(session, seller, body.amount, settings=settings)
        return views.payout_to_read(payout)

    return await idempotency.run(
        scope=str(principal.id),
        status_code=201,
        response_model=PayoutRead,
        produce=produce,
    )


@router.get("/payouts", response_model=Page[PayoutRead], responses=error_responses(InvalidCursor))
async def list_payouts(
    seller: OwnSellerProfile, session: DbSession, page: PageQuery
) -> Page[PayoutRead]:
    """Your payouts, newest first."""
    payouts, next_cursor = await service.payouts_of(session, seller.id, page)
    return page_of(payouts, next_cursor, views.payout_to_read)
