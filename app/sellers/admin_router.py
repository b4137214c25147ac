"""Admin: the seller review queue and the approve / reject / suspend / reinstate decisions."""

import uuid
from typing import Annotated

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.auth.principal import Principal
from app.core.db import DbSession
from app.core.errors import InvalidTransition, NotFound, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.schemas import NO_NUL_PATTERN, Page, page_of
from app.sellers import service, views
from app.sellers.models import SellerStatus
from app.sellers.schemas import SellerDecision, SellerDecisionRequired, SellerRead
from app.sellers.state import SellerAction

router = admin_api_router("/sellers")


@router.get("", response_model=Page[SellerRead], responses=error_responses(InvalidCursor))
async def list_sellers(
    admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    status: Annotated[SellerStatus | None, Query(description="e.g. pending_review")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    shop_name: Annotated[
        str | None, Query(max_length=80, pattern=NO_NUL_PATTERN, description="Part of the name")
    ] = None,
) -> Page[SellerRead]:
    """The review queue: applications oldest first, filtered by status, country or name."""
    rows, next_cursor = await service.review_queue(
        session, page, status=status, country=country, shop_name=shop_name
    )
    return page_of(rows, next_cursor, views.admin_view)


@router.get("/{seller_id}", response_model=SellerRead, responses=error_responses(NotFound))
async def get_seller(seller_id: uuid.UUID, admin: AdminPrincipal, session: DbSession) -> SellerRead:
    """One seller profile in full (payout account masked)."""
    return views.admin_view(await service.get(session, seller_id))


_ERRORS = error_responses(NotFound, InvalidTransition)


async def _decide(
    session: AsyncSession,
    admin: Principal,
    seller_id: uuid.UUID,
    action: SellerAction,
    reason: str | None,
) -> SellerRead:
    """What the four decisions below share: the audited transition, shown as admins see it
    (each keeps its own route for its body, which only approve and reinstate may omit)."""
    return views.admin_view(await service.decide(session, admin, seller_id, action, reason))


@router.post("/{seller_id}/approve", response_model=SellerRead, responses=_ERRORS)
async def approve_seller(
    seller_id: uuid.UUID,
    admin: AdminPrincipal,
    session: DbSession,
    body: SellerDecision = SellerDecision(),
) -> SellerRead:
    """Approve an application: the user gets the seller role and may list goods."""
    return await _decide(session, admin, seller_id, SellerAction.approve, body.reason)


@router.post("/{seller_id}/reject", response_model=SellerRead, responses=_ERRORS)
async def reject_seller(
    seller_id: uuid.UUID, body: SellerDecisionRequired, admin: AdminPrincipal, session: DbSession
) -> SellerRead:
    """Reject an application with a reason the applicant sees; they may re-apply."""
    return await _decide(session, admin, seller_id, SellerAction.reject, body.reason)


@router.post("/{seller_id}/suspend", response_model=SellerRead, responses=_ERRORS)
async def suspend_seller(
    seller_id: uuid.UUID, body: SellerDecisionRequired, admin: AdminPrincipal, session: DbSession
) -> SellerRead:
    """Suspend a shop: its listings leave search and cannot be bought until reinstated."""
    return await _decide(session, admin, seller_id, SellerAction.suspend, body.reason)


@router.post("/{seller_id}/reinstate", response_model=SellerRead, responses=_ERRORS)
async def reinstate_seller(
    seller_id: uuid.UUID,
    admin: AdminPrincipal,
    session: DbSession,
    body: SellerDecision = SellerDecision(),
) -> SellerRead:
    """Lift a suspension: the shop and its listings are back."""
    return await _decide(session, admin, seller_id, SellerAction.reinstate, body.reason)
