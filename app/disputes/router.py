import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.auth.principal import PartySide
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
from app.disputes.dependencies import DisputeGuard, EvidenceGuard, ReturnGuard
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
from app.disputes.models import DisputeStatus, ReturnStatus
from app.disputes.schemas import (
    DisputeCreate,
    DisputeMessageCreate,
    DisputeRead,
    DisputeSummary,
    EvidenceRead,
    ReturnCreate,
    ReturnRead,
    ReturnReject,
    ReturnShipBack,
    ReturnSummary,
)
from app.disputes.state import ReturnAction
from app.logistics.exceptions import TrackingNumberInUse
from app.orders.dependencies import OrderGuard
from app.orders.exceptions import OrderNotFound
from app.payments.dependencies import Provider
from app.shipping.exceptions import CarrierNameRequired, InvalidTrackingNumber, UnknownCarrier

returns_router = APIRouter(
    prefix=API_PREFIX, tags=["returns"], responses=error_responses(InvalidToken)
)
disputes_router = APIRouter(
    prefix=API_PREFIX, tags=["disputes"], responses=error_responses(InvalidToken)
)

_RETURN_STEP_ERRORS = error_responses(ReturnNotFound, InvalidTransition)
_DISPUTE_ERRORS = error_responses(DisputeNotFound, InvalidTransition)

# The filters the caller's lists share: which side they hold, and of which order.
RoleQuery = Annotated[
    PartySide | None,
    Query(description="`buyer`: what you bought; `seller`: what your shop sold; omitted: both"),
]
OrderIdQuery = Annotated[uuid.UUID | None, Query(description="Only those of this order")]


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
    order: OrderGuard,
    body: ReturnCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> ReturnRead:
    """Buyer: ask to send (part of) a completed order back, inside the return window. The
    seller approves or rejects; silence past the response time approves."""
    return_request = await returns.request_return(
        session, principal, order, settings=settings, data=body
    )
    return await views.return_read(session, return_request)


@returns_router.get(
    "/returns", response_model=Page[ReturnSummary], responses=error_responses(InvalidCursor)
)
async def list_returns(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    role: RoleQuery = None,
    status: Annotated[
        list[ReturnStatus] | None,
        Query(
            max_length=len(ReturnStatus), description="Any of these states (repeat the parameter)"
        ),
    ] = None,
    order_id: OrderIdQuery = None,
) -> Page[ReturnSummary]:
    """Your returns, newest first: as buyer, as seller (an API key: its shop's), or both;
    each with what you may do now and until when."""
    rows, next_cursor = await returns.list_for(
        session, principal, role=role, statuses=status or [], order_id=order_id, page=page
    )
    return Page(items=views.return_summaries(rows), next_cursor=next_cursor)


@returns_router.get(
    "/returns/{return_id}", response_model=ReturnRead, responses=error_responses(ReturnNotFound)
)
async def get_return(return_request: ReturnGuard, session: DbSession) -> ReturnRead:
    """A return of an order you bought or sold, with `allowed_actions` and its timeline."""
    return await views.return_read(session, return_request)


async def _return_step(
    session: DbSession,
    principal: CurrentPrincipal,
    return_request: ReturnGuard,
    provider: Provider,
    action: ReturnAction,
    details: dict[str, str],
) -> ReturnRead:
    await returns.step(
        session, principal, return_request, provider=provider, action=action, details=details
    )
    return await views.return_read(session, return_request)


@returns_router.post(
    "/returns/{return_id}/approve", response_model=ReturnRead, responses=_RETURN_STEP_ERRORS
)
async def approve_return(
    return_request: ReturnGuard, principal: CurrentPrincipal, session: DbSession, provider: Provider
) -> ReturnRead:
    """Seller: accept the return; the buyer then ships the goods back."""
    return await _return_step(
        session, principal, return_request, provider, ReturnAction.approve, {}
    )


@returns_router.post(
    "/returns/{return_id}/reject", response_model=ReturnRead, responses=_RETURN_STEP_ERRORS
)
async def reject_return(
    return_request: ReturnGuard,
    body: ReturnReject,
    principal: CurrentPrincipal,
    session: DbSession,
    provider: Provider,
) -> ReturnRead:
    """Seller: refuse the return, with a reason. The buyer may then open a dispute."""
    details = {"reason": body.reason}
    return await _return_step(
        session, principal, return_request, provider, ReturnAction.reject, details
    )


@returns_router.post(
    "/returns/{return_id}/ship-back",
    response_model=ReturnRead,
    responses=error_responses(
        ReturnNotFound,
        InvalidTransition,
        UnknownCarrier,
        CarrierNameRequired,
        InvalidTrackingNumber,
        TrackingNumberInUse,
    ),
)
async def ship_back_return(
    return_request: ReturnGuard,
    body: ReturnShipBack,
    principal: CurrentPrincipal,
    session: DbSession,
    provider: Provider,
    settings: AppSettings,
) -> ReturnRead:
    """Buyer: the goods are on their way back, with carrier and tracking number (checked as
    the seller's are; `sandbox` numbers script the journey). The parcel and its scans show on
    the return; once the carrier delivers it the seller has the inspection time to confirm."""
    await returns.ship_back(
        session,
        principal,
        return_request,
        settings=settings,
        provider=provider,
        carrier=body.carrier,
        carrier_name=body.carrier_name,
        tracking_number=body.tracking_number,
    )
    return await views.return_read(session, return_request)


@returns_router.post(
    "/returns/{return_id}/receive",
    openapi_extra=IDEMPOTENCY_KEY_REQUIRED,
    response_model=ReturnRead,
    responses=error_responses(
        ReturnNotFound, InvalidTransition, IdempotencyKeyRequired, IdempotencyKeyReused
    ),
)
async def receive_return(
    return_request: ReturnGuard,
    principal: CurrentPrincipal,
    session: DbSession,
    provider: Provider,
    idempotency: IdempotencyDep,
) -> ReturnRead | JSONResponse:
    """Seller: the goods are back. The buyer is refunded the return's amount at once (from
    your balance, which may go into debt, since the escrow was released at completion).
    Requires an `Idempotency-Key`."""

    async def produce() -> ReturnRead:
        return await _return_step(
            session, principal, return_request, provider, ReturnAction.receive, {}
        )

    return await idempotency.run(
        scope=str(principal.id),
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
    order: OrderGuard,
    body: DisputeCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> DisputeRead:
    """Buyer: ask the platform to step in on a paid, shipped or (inside the dispute window)
    completed order. The order's money is frozen and it no longer completes by itself; the
    seller must answer within the response time or the buyer gets what they asked for."""
    dispute = await disputes.open_dispute(session, principal, order, settings=settings, data=body)
    return await views.dispute_read(session, dispute)


@disputes_router.get(
    "/disputes", response_model=Page[DisputeSummary], responses=error_responses(InvalidCursor)
)
async def list_disputes(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    role: RoleQuery = None,
    status: Annotated[
        list[DisputeStatus] | None,
        Query(
            max_length=len(DisputeStatus), description="Any of these states (repeat the parameter)"
        ),
    ] = None,
    order_id: OrderIdQuery = None,
) -> Page[DisputeSummary]:
    """Your disputes, newest first: as buyer, as seller (an API key: its shop's), or both;
    each with what you may do now and until when. Admins: their queue is
    `GET /v1/admin/disputes`; here they see only disputes they are a party to."""
    rows, next_cursor = await disputes.list_for(
        session, principal, role=role, statuses=status or [], order_id=order_id, page=page
    )
    return Page(items=views.dispute_summaries(rows), next_cursor=next_cursor)


@disputes_router.get(
    "/disputes/{dispute_id}",
    response_model=DisputeRead,
    responses=error_responses(DisputeNotFound),
)
async def get_dispute(dispute: DisputeGuard, session: DbSession) -> DisputeRead:
    """A dispute you are a party to (admins: any), with messages, evidence and timeline."""
    return await views.dispute_read(session, dispute)


@disputes_router.post(
    "/disputes/{dispute_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=DisputeRead,
    responses=error_responses(DisputeNotFound, DisputeClosed, UnknownEvidence),
)
async def post_dispute_message(
    dispute: DisputeGuard,
    body: DisputeMessageCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> DisputeRead:
    """Buyer, seller or admin adds a message, optionally citing evidence uploaded first.
    The seller's message answers the dispute (`awaiting_buyer`); the buyer's answer back
    hands it to the seller again, with a fresh deadline (`awaiting_seller`)."""
    await disputes.add_message(
        session,
        principal,
        dispute,
        settings=settings,
        body=body.body,
        evidence_ids=body.evidence_ids,
    )
    return await views.dispute_read(session, dispute)


@disputes_router.post(
    "/disputes/{dispute_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceRead,
    responses=error_responses(
        DisputeNotFound, DisputeClosed, EvidenceTooLarge, UnsupportedEvidenceType
    ),
)
async def upload_dispute_evidence(
    dispute: DisputeGuard,
    file: Annotated[
        UploadFile, File(description="JPEG, PNG, WebP or PDF", json_schema_extra=BINARY)
    ],
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: PrivateStorage,
) -> EvidenceRead:
    """Upload a file (type judged by content) to cite in a message. Only the dispute's
    parties and admins can download it."""
    data = await file.read(settings.max_evidence_bytes + 1)
    evidence = await disputes.upload_evidence(
        session,
        principal,
        dispute,
        settings=settings,
        storage=storage,
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
async def download_dispute_evidence(evidence: EvidenceGuard, storage: PrivateStorage) -> Response:
    """Download one evidence file of a dispute you are a party to (admins: any)."""
    data = await disputes.read_evidence(storage, evidence.subject)
    return views.evidence_file(evidence.subject, data)


@disputes_router.post(
    "/disputes/{dispute_id}/escalate", response_model=DisputeRead, responses=_DISPUTE_ERRORS
)
async def escalate_dispute(
    dispute: DisputeGuard, principal: CurrentPrincipal, session: DbSession
) -> DisputeRead:
    """Buyer or seller: ask an admin to decide. No deadline runs after this."""
    await disputes.escalate(session, principal, dispute)
    return await views.dispute_read(session, dispute)
