"""Admin operations on reviews."""

from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.core.db import DbSession
from app.core.errors import error_responses
from app.reviews import service
from app.reviews.dependencies import ReviewToHide
from app.reviews.exceptions import ReviewNotFound
from app.reviews.schemas import HideRequest, ReviewRead
from app.reviews.views import review_read

router = admin_api_router("/reviews")


@router.post(
    "/{review_id}/hide", response_model=ReviewRead, responses=error_responses(ReviewNotFound)
)
async def hide_review(
    review: ReviewToHide, body: HideRequest, admin: AdminPrincipal, session: DbSession
) -> ReviewRead:
    """Hide a published review (reason audited): it leaves the public lists and the
    reputation aggregates; its parties still see it, marked hidden."""
    return await review_read(
        session, await service.hide(session, admin, review, reason=body.reason)
    )
