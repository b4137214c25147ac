import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AdminUser, AppSettings, CurrentUser
from app.auth.exceptions import AdminRequired, InvalidToken
from app.catalog.dependencies import PrivateStorage
from app.core.db import DbSession
from app.core.errors import Forbidden, InvalidTransition, error_responses
from app.core.idempotency import (
    IDEMPOTENCY_KEY_REQUIRED,
    IdempotencyDep,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from app.core.money import CurrencyNotSupported
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX, BINARY
from app.core.schemas import Page
from app.disputes import returns, views
from app.disputes import service as disputes
from app.disputes.exceptions import (
    DisputeClosed,
    DisputeExists,
    DisputeNotFound,
    DisputeWindowClosed,
    EvidenceNotFound,
    EvidenceTooLarge,
    InvalidReturnItems,
    OrderNotCompleted,
    OrderNotDisputable,
    RefundTooLarge,
    ReturnExists,
    ReturnInProgress,
    ReturnNotFound,
    ReturnWindowClosed,
    UnknownEvidence,
    UnsupportedEvidenceType,
)
from app.disputes.models import DisputeReason, DisputeStatus
from app.disputes.schemas import (
    DisputeCreate,
    DisputeMessageCreate,
    DisputeRead,
    DisputeResolve,
    DisputeSummary,
    EvidenceRead,
    ReturnCreate,
    ReturnRead,
    ReturnReject,
    ReturnShipBack,
)
from app.disputes.state import ReturnAction
from app.orders.exceptions import OrderNotFound
from app.payments.dependencies import Provider
from app.sellers.dependencies import MaybeSeller

returns_router = APIRouter(
    prefix=API_PREFIX, tags=["returns"], responses=error_responses(InvalidToken)
)
disputes_router = APIRouter(
    prefix=API_PREFIX, tags=["disputes"], responses=error_responses(InvalidToken)
)
admin_disputes_router = APIRouter(
    prefix=f"{API_PREFIX}/admin/disputes",
    tags=["admin"],
    responses=error_responses(InvalidToken, AdminRequired),
)

_RETURN_STEP_ERRORS = error_responses(ReturnNotFound, InvalidTransition)
_DISPUTE_ERRORS = error_responses(DisputeNotFound, InvalidTransition)


# --- returns ---------------------------------------------------------------------------------


@returns_router.post(
    "/orders/{order_id}/returns",
    status_code=status.HTTP_201_CREATED,
    response_model=ReturnRead,
    responses=error_responses(
        OrderNotFound,
        Forbidden,
        OrderNotCompleted,
        ReturnWindowClosed,
        ReturnExists,
        InvalidReturnItems,
    ),
)
async def request_return(
    order_id: uuid.UUID,
    body: ReturnCreate,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    settings: AppSettings,
) -> ReturnRead:
    """Buyer: ask to send (part of) a completed order back, inside the return window. The
    seller approves or rejects; silence past the response time approves."""
    request = await returns.request_return(session, settings, user, seller, order_id, body)
    request, actors = await returns.get_for(session, request.id, user, seller)
    return await views.return_read(session, request, actors)


@returns_router.get(
    "/returns/{return_id}", response_model=ReturnRead, responses=error_responses(ReturnNotFound)
)
async def get_return(
    return_id: uuid.UUID, user: CurrentUser, seller: MaybeSeller, session: DbSession
) -> ReturnRead:
    """A return of an order you bought or sold, with `allowed_actions` and its timeline."""
    request, actors = await returns.get_for(session, return_id, user, seller)
    return await views.return_read(session, request, actors)


async def _return_step(
    session: DbSession,
    provider: Provider,
    return_id: uuid.UUID,
    action: ReturnAction,
    user: CurrentUser,
    seller: MaybeSeller,
    details: dict[str, str],
) -> ReturnRead:
    request, actors = await returns.step(
        session, provider, return_id, action, user, seller, details=details
    )
    return await views.return_read(session, request, actors)


@returns_router.post(
    "/returns/{return_id}/approve", response_model=ReturnRead, responses=_RETURN_STEP_ERRORS
)
async def approve_return(
    return_id: uuid.UUID,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    provider: Provider,
) -> ReturnRead:
    """Seller: accept the return; the buyer then ships the goods back."""
    return await _return_step(session, provider, return_id, ReturnAction.approve, user, seller, {})


@returns_router.post(
    "/returns/{return_id}/reject", response_model=ReturnRead, responses=_RETURN_STEP_ERRORS
)
async def reject_return(
    return_id: uuid.UUID,
    body: ReturnReject,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    provider: Provider,
) -> ReturnRead:
    """Seller: refuse the return, with a reason. The buyer may then open a dispute."""
    return await _return_step(
        session, provider, return_id, ReturnAction.reject, user, seller, {"reason": body.reason}
    )


@returns_router.post(
    "/returns/{return_id}/ship-back", response_model=ReturnRead, responses=_RETURN_STEP_ERRORS
)
async def ship_back_return(
    return_id: uuid.UUID,
    body: ReturnShipBack,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    provider: Provider,
) -> ReturnRead:
    """Buyer: the goods are on their way back, with carrier and tracking number."""
    details = {"carrier": body.carrier, "tracking_number": body.tracking_number}
    return await _return_step(
        session, provider, return_id, ReturnAction.ship_back, user, seller, details
    )


@returns_router.post(
    "/returns/{return_id}/receive",
    openapi_extra=IDEMPOTENCY_KEY_REQUIRED,
    response_model=ReturnRead,
    responses=error_responses(
        ReturnNotFound, InvalidTransition, IdempotencyKeyRequired, IdempotencyKeyReused
    ),
)
async def receive_return(
    return_id: uuid.UUID,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    provider: Provider,
    idempotency: IdempotencyDep,
) -> ReturnRead | JSONResponse:
    """Seller: the goods are back. The buyer is refunded the return's amount at once (from
    your balance, which may go into debt, since the escrow was released at completion).
    Requires an `Idempotency-Key`."""

    async def produce() -> ReturnRead:
        return await _return_step(
            session, provider, return_id, ReturnAction.receive, user, seller, {}
        )

    return await idempotency.run(
        scope=str(user.id),
        status_code=200,
        response_model=ReturnRead,
        produce=produce,
    )


# --- disputes --------------------------------------------------------------------------------


@disputes_router.post(
    "/orders/{order_id}/disputes",
    status_code=status.HTTP_201_CREATED,
    response_model=DisputeRead,
    responses=error_responses(
        OrderNotFound,
        Forbidden,
        DisputeExists,
        OrderNotDisputable,
        DisputeWindowClosed,
        ReturnInProgress,
        RefundTooLarge,
        CurrencyNotSupported,
    ),
)
async def open_dispute(
    order_id: uuid.UUID,
    body: DisputeCreate,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    settings: AppSettings,
) -> DisputeRead:
    """Buyer: ask the platform to step in on a paid, shipped or (inside the dispute window)
    completed order. The order's money is frozen and it no longer completes by itself; the
    seller must answer within the response time or the buyer gets what they asked for."""
    dispute = await disputes.open_dispute(session, settings, user, seller, order_id, body)
    dispute, actors = await disputes.get_for(session, dispute.id, user, seller)
    return await views.dispute_read(session, dispute, actors)


@disputes_router.get(
    "/disputes/{dispute_id}",
    response_model=DisputeRead,
    responses=error_responses(DisputeNotFound),
)
async def get_dispute(
    dispute_id: uuid.UUID, user: CurrentUser, seller: MaybeSeller, session: DbSession
) -> DisputeRead:
    """A dispute you are a party to (admins: any), with messages, evidence and timeline."""
    dispute, actors = await disputes.get_for(session, dispute_id, user, seller)
    return await views.dispute_read(session, dispute, actors)


@disputes_router.post(
    "/disputes/{dispute_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=DisputeRead,
    responses=error_responses(DisputeNotFound, DisputeClosed, UnknownEvidence),
)
async def post_dispute_message(
    dispute_id: uuid.UUID,
    body: DisputeMessageCreate,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    settings: AppSettings,
) -> DisputeRead:
    """Buyer, seller or admin adds a message, optionally citing evidence uploaded first.
    The seller's message answers the dispute (`awaiting_buyer`); the buyer's answer back
    hands it to the seller again, with a fresh deadline (`awaiting_seller`)."""
    dispute, actors = await disputes.add_message(
        session,
        settings,
        dispute_id,
        user,
        seller,
        body=body.body,
        evidence_ids=body.evidence_ids,
    )
    return await views.dispute_read(session, dispute, actors)


@disputes_router.post(
    "/disputes/{dispute_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceRead,
    responses=error_responses(
        DisputeNotFound, DisputeClosed, EvidenceTooLarge, UnsupportedEvidenceType
    ),
)
async def upload_dispute_evidence(
    dispute_id: uuid.UUID,
    file: Annotated[
        UploadFile, File(description="JPEG, PNG, WebP or PDF", json_schema_extra=BINARY)
    ],
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    settings: AppSettings,
    storage: PrivateStorage,
) -> EvidenceRead:
    """Upload a file (type judged by content) to cite in a message. Only the dispute's
    parties and admins can download it."""
    data = await file.read(settings.max_evidence_bytes + 1)
    evidence = await disputes.upload_evidence(
        session,
        settings,
        storage,
        dispute_id,
        user,
        seller,
        filename=file.filename or "",
        data=data,
    )
    return views.evidence_read(evidence)


@disputes_router.get(
    "/disputes/{dispute_id}/evidence/{evidence_id}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {"schema": BINARY}},
            "description": "The file",
        },
        **error_responses(DisputeNotFound, EvidenceNotFound),
    },
)
async def download_dispute_evidence(
    dispute_id: uuid.UUID,
    evidence_id: uuid.UUID,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    storage: PrivateStorage,
) -> Response:
    """Download one evidence file of a dispute you are a party to (admins: any)."""
    evidence, data = await disputes.read_evidence(
        session, storage, dispute_id, evidence_id, user, seller
    )
    return Response(
        data,
        media_type=evidence.content_type,
        headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "attachment"},
    )


@disputes_router.post(
    "/disputes/{dispute_id}/escalate", response_model=DisputeRead, responses=_DISPUTE_ERRORS
)
async def escalate_dispute(
    dispute_id: uuid.UUID, user: CurrentUser, seller: MaybeSeller, session: DbSession
) -> DisputeRead:
    """Buyer or seller: ask an admin to decide. No deadline runs after this."""
    dispute, actors = await disputes.escalate(session, dispute_id, user, seller)
    return await views.dispute_read(session, dispute, actors)


# --- admin -----------------------------------------------------------------------------------


@admin_disputes_router.get(
    "", response_model=Page[DisputeSummary], responses=error_responses(InvalidCursor)
)
async def list_disputes(
    admin: AdminUser,
    session: DbSession,
    page: PageQuery,
    status: Annotated[DisputeStatus | None, Query()] = None,
    reason: Annotated[DisputeReason | None, Query()] = None,
) -> Page[DisputeSummary]:
    """The dispute queue, oldest first, with each dispute's age; filter by status (e.g.
    `escalated`) and reason."""
    rows, next_cursor = await disputes.queue(session, status=status, reason=reason, page=page)
    return Page(items=await views.dispute_summaries(session, rows), next_cursor=next_cursor)


@admin_disputes_router.post(
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
    dispute_id: uuid.UUID,
    body: DisputeResolve,
    admin: AdminUser,
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
        dispute = await disputes.resolve(session, settings, provider, dispute_id, admin, body)
        dispute, actors = await disputes.get_for(session, dispute.id, admin, None)
        return await views.dispute_read(session, dispute, actors)

    return await idempotency.run(
        scope=str(admin.id),
        status_code=200,
        response_model=DisputeRead,
        produce=produce,
    )
