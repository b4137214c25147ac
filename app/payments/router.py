"""A seller's money: balance, ledger entries and payouts."""

import uuid

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse, StreamingResponse

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession, StreamingReadSession
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
from app.payments.dependencies import LedgerFilterQuery
from app.payments.exceptions import InsufficientBalance, PayoutNotFound
from app.payments.schemas import BalanceRead, LedgerEntryRead, PayoutCreate, PayoutRead
from app.sellers.dependencies import ActiveSeller, OwnSellerProfile
from app.sellers.exceptions import SellerRequired, SellerSuspended
from app.sellers.models import SellerStatus

router = APIRouter(
    prefix=f"{API_PREFIX}/sellers/me",
    tags=["payouts"],
    responses=error_responses(InvalidToken, SellerRequired),
)


@router.get("/balance", response_model=BalanceRead)
async def get_balance(
    seller: OwnSellerProfile, session: DbSession, settings: AppSettings
) -> BalanceRead:
    """Your money in the platform's currency (the one payouts are made in): pending (in the
    payout hold), available (or, after refunds beyond it, a `debt` recovered from your next
    sales before any payout), in transit, and reserved (proceeds of orders under dispute);
    `by_currency` has the same for every currency you have money in, the platform's first.
    `allowed_actions` offers `request_payout` when money is available and your shop is
    approved."""
    balances = await service.balances(session, seller.id, including=settings.currency)
    return views.balance_read(
        balances,
        platform_currency=settings.currency,
        may_be_paid=seller.status is SellerStatus.approved,
    )


@router.get(
    "/ledger", response_model=Page[LedgerEntryRead], responses=error_responses(InvalidCursor)
)
async def list_ledger_entries(
    seller: OwnSellerProfile, session: DbSession, page: PageQuery, filters: LedgerFilterQuery
) -> Page[LedgerEntryRead]:
    """Every movement of your money, newest first: each entry's `entry_type` (sale, refund,
    payout…), a `description` in words, the order or payout it belongs to, and for a sale
    the gross and the commission. Filter by time (`created_after` inclusive,
    `created_before` exclusive), `order_id`, `payout_id` and `entry_type` (repeatable).
    The same as CSV: `GET /v1/sellers/me/ledger.csv`."""
    lines, next_cursor = await service.seller_entries(session, seller.id, page, filters)
    return page_of(lines, next_cursor, views.entry_to_read)


@router.get(
    "/ledger.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": (
                "The statement as CSV (RFC 4180, UTF-8, a header line): "
                + ", ".join(f"`{c}`" for c in views.CSV_COLUMNS)
            ),
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def export_ledger_entries(
    seller: OwnSellerProfile, session: StreamingReadSession, filters: LedgerFilterQuery
) -> StreamingResponse:
    """Your whole statement as a CSV file, newest first, with the same filters as
    `GET /v1/sellers/me/ledger` (no pages: it is streamed as it is read). `amount` is in
    the currency's units (`15.00`), `amount_minor` in minor units (`1500`). A text cell
    that a spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`) is
    prefixed with `'`."""
    batches = service.all_seller_entries(session, seller.id, filters)
    return StreamingResponse(
        views.statement_csv(batches),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ledger.csv"'},
    )


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
    Requires an `Idempotency-Key`. More than is available: 409 `insufficient_balance`, whose
    problem document has `available`, `requested` and `debt` as Money."""

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


@router.get(
    "/payouts/{payout_id}", response_model=PayoutRead, responses=error_responses(PayoutNotFound)
)
async def get_payout(
    payout_id: uuid.UUID, seller: OwnSellerProfile, session: DbSession
) -> PayoutRead:
    """One of your payouts (where a notification about it links to)."""
    return views.payout_to_read(await service.get_payout(session, seller.id, payout_id))
