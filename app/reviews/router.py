import uuid

from fastapi import APIRouter, status

from app.auth.dependencies import CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.catalog.exceptions import ListingNotFound
from app.core.db import DbSession, ReadSession
from app.core.errors import NotFound, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page
from app.orders.dependencies import OrderGuard
from app.orders.exceptions import OrderNotFound
from app.reviews import service
from app.reviews.dependencies import ReviewGuard, ReviewToReply
from app.reviews.exceptions import (
    AlreadyReplied,
    AlreadyReviewed,
    NotOrderParty,
    NotReviewSubject,
    OrderNotReviewable,
    ReviewNotFound,
    ReviewWindowClosed,
)
from app.reviews.schemas import ReplyCreate, ReviewCreate, ReviewRead, Storefront, UserProfile
from app.reviews.views import (
    review_list,
    review_page,
    review_read,
    storefront_read,
    user_profile_read,
)

reviews_router = APIRouter(prefix=API_PREFIX, tags=["reviews"])
profiles_router = APIRouter(prefix=API_PREFIX, tags=["sellers"])


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
    order: OrderGuard, body: ReviewCreate, principal: CurrentPrincipal, session: DbSession
) -> ReviewRead:
    """Review the other party of a completed order, once, inside the review window. Nobody
    else sees it (the other party included) until both have written or the window closes;
    then both publish together."""
    return await review_read(session, await service.write(session, principal, order, data=body))


@reviews_router.get(
    "/orders/{order_id}/reviews",
    response_model=list[ReviewRead],
    responses=error_responses(InvalidToken, OrderNotFound),
)
async def list_order_reviews(
    order: OrderGuard, principal: CurrentPrincipal, session: DbSession
) -> list[ReviewRead]:
    """The reviews of an order you are a party to: yours, and the other's once published."""
    return await review_list(session, await service.of_order(session, principal, order))


@reviews_router.get(
    "/reviews/{review_id}", response_model=ReviewRead, responses=error_responses(ReviewNotFound)
)
async def get_review(review: ReviewGuard, session: DbSession) -> ReviewRead:
    """A published review (hidden ones: only to the two parties and admins; unpublished:
    only to the author)."""
    return await review_read(session, review.subject)


@reviews_router.post(
    "/reviews/{review_id}/reply",
    response_model=ReviewRead,
    responses=error_responses(InvalidToken, ReviewNotFound, NotReviewSubject, AlreadyReplied),
)
async def reply_to_review(
    review: ReviewToReply, body: ReplyCreate, session: DbSession
) -> ReviewRead:
    """The reviewed person answers a published review, once, publicly."""
    return await review_read(session, await service.reply(session, review, text=body.reply))


@profiles_router.get(
    "/sellers/{seller_id}", response_model=Storefront, responses=error_responses(NotFound)
)
async def get_storefront(seller_id: uuid.UUID, session: ReadSession) -> Storefront:
    """A shop's public page: name, joined date, live listing count, and its reputation from
    buyers' reviews (average, count, positive share, distribution, last 12 months). It stays
    readable while the shop is suspended (`status`; `accepting_orders` false, so its listings
    are not for sale); a shop never approved, or closed with its owner's account, is 404."""
    return storefront_read(await service.storefront(session, seller_id))


@profiles_router.get(
    "/sellers/{seller_id}/reviews",
    response_model=Page[ReviewRead],
    responses=error_responses(NotFound, InvalidCursor),
)
async def list_seller_reviews(
    seller_id: uuid.UUID, session: ReadSession, page: PageQuery
) -> Page[ReviewRead]:
    """Buyers' published reviews of a shop, newest first."""
    rows, cursor = await service.visible_about_shop(session, seller_id, page=page)
    return await review_page(session, rows, cursor)


@profiles_router.get(
    "/users/{user_id}",
    response_model=UserProfile,
    tags=["reviews"],
    responses=error_responses(NotFound),
)
async def get_user_profile(user_id: uuid.UUID, session: ReadSession) -> UserProfile:
    """A person's public profile: name, joined date, and reputation as a buyer."""
    return user_profile_read(await service.user_profile(session, user_id))


@profiles_router.get(
    "/users/{user_id}/reviews",
    response_model=Page[ReviewRead],
    tags=["reviews"],
    responses=error_responses(NotFound, InvalidCursor),
)
async def list_user_reviews(
    user_id: uuid.UUID, session: ReadSession, page: PageQuery
) -> Page[ReviewRead]:
    """Sellers' published reviews of a person as a buyer, newest first (404 for an unknown
    person)."""
    rows, cursor = await service.visible_about_user(session, user_id, page=page)
    return await review_page(session, rows, cursor)


@reviews_router.get(
    "/listings/{listing_id}/reviews",
    response_model=Page[ReviewRead],
    responses=error_responses(ListingNotFound, InvalidCursor),
)
async def list_listing_reviews(
    listing_id: uuid.UUID, session: ReadSession, page: PageQuery
) -> Page[ReviewRead]:
    """Buyers' published reviews of orders that contained this listing, newest first, each
    with the author's name and the order's items. Public."""
    rows, cursor = await service.visible_about_listing(session, listing_id, page=page)
    return await review_page(session, rows, cursor)
