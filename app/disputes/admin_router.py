"""Admin: the dispute queue and the decision."""

from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse

from app.auth.dependencies import AdminPrincipal, AppSettings, admin_api_router
from app.core.db import DbSession
from app.core.errors import InvalidTransition, error_responses
from app.core.idempotency import (
    IDEMPOTENCY_KEY_REQUIRED,
    IdempotencyDep,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from app.core.money import CurrencyNotSupported
from app.core.pagination import InvalidCursor, PageQuery
from app.core.schemas import Page
from app.disputes import service as disputes
from app.disputes import views
from app.disputes.dependencies import DisputeGuard
from app.disputes.exceptions import DisputeNotFound, RefundTooLarge
from app.disputes.models import DisputeReason, DisputeStatus
from app.disputes.schemas import DisputeRead, DisputeResolve, DisputeSummary
from app.payments.dependencies import Provider

router = admin_api_router("/disputes")


@router.get("", response_model=Page[DisputeSummary], responses=error_responses(InvalidCursor))
async def list_disputes(
    admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    status: Annotated[DisputeStatus | None, Query()] = None,
    reason: Annotated[DisputeReason | None, Query()] = None,
) -> Page[DisputeSummary]:
    """The dispute queue, oldest first, with each dispute's age; filter by status (e.g.
    `escalated`) and reason."""
    rows, next_cursor = await disputes.queue(
        session, admin, status=status, reason=reason, page=page
    )
    return Page(items=views.dispute_summaries(rows), next_cursor=next_cursor)


@router.post(
    "/{dispute_id}/resolve",
    openapi_extra=IDEMPOTENCY_KEY_REQUIRED,
    response_model=DisputeRead,
    responses=error_responses(
        DisputeNotFound,
        InvalidTransition,
        RefundTooLarge,
        CurrencyNotSupported,
        IdempotencyKeyRequired,
        IdempotencyKeyReused,
    ),
)
async def resolve_dispute(
    # The admin check first: a non-admin is refused before the guard loads (and locks) the
    # dispute, whether or not they are one of its parties.
    admin: AdminPrincipal,
    dispute: DisputeGuard,
    body: DisputeResolve,
    session: DbSession,
    settings: AppSettings,
    provider: Provider,
    idempotency: IdempotencyDep,
) -> DisputeRead | JSONResponse:
    """Decide: `refund_buyer` (everything not yet refunded), `partial_refund` (with
    `refund_amount`, at most what was paid and not refunded; the seller gets the rest) or
    `release_to_seller`. The money moves in the same transaction, and the order reaches
    its final state. Of two concurrent decisions one wins; the other gets 409. Requires an
    `Idempotency-Key`."""

    async def produce() -> DisputeRead:
        await disputes.resolve(
            session, admin, dispute, settings=settings, provider=provider, data=body
        )
        return await views.dispute_read(session, dispute)

    return await idempotency.run(
        scope=str(admin.id),
        status_code=200,
        response_model=DisputeRead,
        produce=produce,
    )
