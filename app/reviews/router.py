import uuid

from fastapi import APIRouter, status

from app.auth.dependencies import AdminUser, CurrentUser, OptionalUser
from app.auth.exceptions import AdminRequired, InvalidToken
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page
from app.orders.exceptions import OrderNotFound
from app.reviews import service
from app.reviews.exceptions import (
    AlreadyReplied,
    AlreadyReviewed,
    NotOrderParty,
    NotReviewSubject,
    OrderNotReviewable,
    ReviewNotFound,
    ReviewWindowClosed,
)
from app.reviews.models import Review, ReviewedRole
from app.reviews.schemas import (
    HideRequest,
    ReplyCreate,
    ReviewCreate,
    ReviewRead,
    Storefront,
    UserProfile,
)
from app.sellers.dependencies import MaybeSeller

reviews_router = APIRouter(prefix=API_PREFIX, tags=["reviews"])
profiles_router = APIRouter(prefix=API_PREFIX, tags=["sellers"])
admin_reviews_router = APIRouter(
    prefix=f"{API_PREFIX}/admin/reviews",
    tags=["admin"],
    responses=error_responses(InvalidToken, AdminRequired),
)


def _read(review: Review) -> ReviewRead:
    return ReviewRead(
        id=review.id,
        order_id=review.order_id,
        author_id=review.author_id,
        subject_user_id=review.subject_user_id,
        about=review.about,
        rating=review.rating,
        comment=review.comment,
        created_at=review.created_at,
        published=review.published_at is not None,
        published_at=review.published_at,
        hidden=review.hidden_at is not None,
        hidden_reason=review.hidden_reason,
        reply=review.reply,
        replied_at=review.replied_at,
    )


@reviews_router.post(
    "/orders/{order_id}/review",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRead,
    responses=error_responses(
        InvalidToken,
        OrderNotFound,
        NotOrderParty,
        OrderNotReviewable,
        ReviewWindowClosed,
        AlreadyReviewed,
    ),
)
async def write_review(
    order_id: uuid.UUID,
    body: ReviewCreate,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
) -> ReviewRead:
    """Review the other party of a completed order, once, inside the review window. Nobody
    else sees it (the other party included) until both have written or the window closes;
    then both publish together."""
    return _read(await service.write(session, user, seller, order_id, body))


@reviews_router.get(
    "/orders/{order_id}/reviews",
    response_model=list[ReviewRead],
    responses=error_responses(InvalidToken, OrderNotFound),
)
async def list_order_reviews(
    order_id: uuid.UUID, user: CurrentUser, seller: MaybeSeller, session: DbSession
) -> list[ReviewRead]:
    """The reviews of an order you are a party to: yours, and the other's once published."""
    return [_read(r) for r in await service.of_order(session, order_id, user, seller)]


@reviews_router.get(
    "/reviews/{review_id}", response_model=ReviewRead, responses=error_responses(ReviewNotFound)
)
async def get_review(review_id: uuid.UUID, user: OptionalUser, session: DbSession) -> ReviewRead:
    """A published review (hidden ones: only to the two parties and admins; unpublished:
    only to the author)."""
    return _read(await service.get_for(session, review_id, user))


@reviews_router.post(
    "/reviews/{review_id}/reply",
    response_model=ReviewRead,
    responses=error_responses(InvalidToken, ReviewNotFound, NotReviewSubject, AlreadyReplied),
)
async def reply_to_review(
    review_id: uuid.UUID, body: ReplyCreate, user: CurrentUser, session: DbSession
) -> ReviewRead:
    """The reviewed person answers a published review, once, publicly."""
    return _read(await service.reply(session, review_id, user, body.reply))


@profiles_router.get(
    "/sellers/{seller_id}", response_model=Storefront, responses=error_responses(NotFound)
)
async def get_storefront(seller_id: uuid.UUID, session: DbSession) -> Storefront:
    """A shop's public page: name, joined date, live listing count, and its reputation from
    buyers' reviews (average, count, positive share, distribution, last 12 months)."""
    return await service.storefront(session, seller_id)


@profiles_router.get(
    "/sellers/{seller_id}/reviews",
    response_model=Page[ReviewRead],
    responses=error_responses(NotFound, InvalidCursor),
)
async def list_seller_reviews(
    seller_id: uuid.UUID, session: DbSession, page: PageQuery
) -> Page[ReviewRead]:
    """Buyers' published reviews of a shop, newest first."""
    user_id = await service.seller_user_id(session, seller_id)
    rows, cursor = await service.visible_about(session, user_id, ReviewedRole.seller, page)
    return Page(items=[_read(r) for r in rows], next_cursor=cursor)


@profiles_router.get(
    "/users/{user_id}",
    response_model=UserProfile,
    tags=["reviews"],
    responses=error_responses(NotFound),
)
async def get_user_profile(user_id: uuid.UUID, session: DbSession) -> UserProfile:
    """A person's public profile: name, joined date, and reputation as a buyer."""
    return await service.user_profile(session, user_id)


@profiles_router.get(
    "/users/{user_id}/reviews",
    response_model=Page[ReviewRead],
    tags=["reviews"],
    responses=error_responses(InvalidCursor),
)
async def list_user_reviews(
    user_id: uuid.UUID, session: DbSession, page: PageQuery
) -> Page[ReviewRead]:
    """Sellers' published reviews of a person as a buyer, newest first."""
    rows, cursor = await service.visible_about(session, user_id, ReviewedRole.buyer, page)
    return Page(items=[_read(r) for r in rows], next_cursor=cursor)


@admin_reviews_router.post(
    "/{review_id}/hide", response_model=ReviewRead, responses=error_responses(ReviewNotFound)
)
async def hide_review(
    review_id: uuid.UUID, body: HideRequest, admin: AdminUser, session: DbSession
) -> ReviewRead:
    """Hide a published review (reason audited): it leaves the public lists and the
    reputation aggregates; its parties still see it, marked hidden."""
    return _read(await service.hide(session, review_id, admin, body.reason))
