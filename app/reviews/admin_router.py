"""Admin operations on reviews."""

from fastapi import APIRouter

from app.auth.dependencies import AdminPrincipal
from app.auth.exceptions import AdminRequired, InvalidToken
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.routing import API_PREFIX
from app.reviews import service
from app.reviews.dependencies import ReviewToHide
from app.reviews.exceptions import ReviewNotFound
from app.reviews.schemas import HideRequest, ReviewRead
from app.reviews.views import review_read

router = APIRouter(
    prefix=f"{API_PREFIX}/admin/reviews",
    tags=["admin"],
    responses=error_responses(InvalidToken, AdminRequired),
)


@router.post(
    "/{review_id}/hide", response_model=ReviewRead, responses=error_responses(ReviewNotFound)
)
async def hide_review(
    review: ReviewToHide, body: HideRequest, admin: AdminPrincipal, session: DbSession
) -> ReviewRead:
    """Hide a published review (reason audited): it leaves the public lists and the
    reputation aggregates; its parties still see it, marked hidden."""
    return review_read(await service.hide(session, admin, review, reason=body.reason))
