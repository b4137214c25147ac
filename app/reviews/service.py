"""Reviews: each party of a completed order reviews the other once, blind; both publish
together when both have written or when the review window closes."""

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import User
from app.auth.principal import acts_as_admin
from app.catalog import service as catalog_service
from app.core.audit import record_audit
from app.core.clock import now
from app.core.pagination import PageParams, SortKey, paginate
from app.orders import service as order_service
from app.orders.models import EventSubject
from app.orders.state import OrderActor
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
from app.reviews.repository import ReviewRepository
from app.reviews.schemas import RatingPeriod, Reputation, ReviewCreate, Storefront, UserProfile
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile

_YEAR = timedelta(days=365)
_WRITTEN = "written"
_PUBLISHED = "published"


async def write(
    session: AsyncSession,
    user: User,
    seller: SellerProfile | None,
    order_id: uuid.UUID,
    data: ReviewCreate,
) -> Review:
    # The order's row lock serialises the two parties, so the second review always sees
    # the first and publishes both.
    order, actors = await order_service.get_for(session, order_id, user, seller, lock=True)
    if OrderActor.buyer in actors:
        about, role = ReviewedRole.seller, OrderActor.buyer
        subject_id = (await seller_service.get(session, order.seller_id)).user_id
    elif OrderActor.seller in actors:
        about, role, subject_id = ReviewedRole.buyer, OrderActor.seller, order.buyer_id
    else:
        raise NotOrderParty()
    if order.completed_at is None or order.review_deadline is None:
        raise OrderNotReviewable(f"the order is {order.status.value}")
    if order.review_deadline <= now():
        raise ReviewWindowClosed(f"reviews closed at {order.review_deadline.isoformat()}")
    reviews = ReviewRepository(session)
    existing = await reviews.of_order(order.id)
    if any(r.about is about for r in existing):
        raise AlreadyReviewed()
    review = Review(
        order_id=order.id,
        author_id=user.id,
        subject_user_id=subject_id,
        about=about,
        rating=data.rating,
        comment=data.comment,
        window_closes_at=order.review_deadline,
    )
    await reviews.save_unique(review, AlreadyReviewed())
    # The timeline says who wrote, never what: the rating stays blind until publication.
    await order_service.record_event(
        session,
        order.id,
        EventSubject.review,
        review.id,
        action="write",
        actor_role=role.value,
        actor_id=user.id,
        change=(None, _WRITTEN),
    )
    if existing:
        await publish(session, order.id)
    return review


async def publish(session: AsyncSession, order_id: uuid.UUID) -> int:
    """Both reviews of an order go public at the same moment."""
    reviews = ReviewRepository(session)
    pending = [r for r in await reviews.of_order(order_id) if r.published_at is None]
    await reviews.publish_order(order_id, now())
    for review in pending:
        await order_service.record_event(
            session,
            order_id,
            EventSubject.review,
            review.id,
            action="publish",
            actor_role=OrderActor.system.value,
            actor_id=None,
            change=(_WRITTEN, _PUBLISHED),
            details={"about": review.about.value},
        )
    return len(pending)


def _visible_to(review: Review, user: User | None) -> bool:
    """Unpublished: its author only. Hidden: the two parties and admins. Else: anyone."""
    if user is not None and review.author_id == user.id:
        return True
    if review.published_at is None:
        return False
    if review.hidden_at is None:
        return True
    return user is not None and (acts_as_admin(user) or review.subject_user_id == user.id)


async def get_for(session: AsyncSession, review_id: uuid.UUID, user: User | None) -> Review:
    review = await ReviewRepository(session).get(review_id)
    if review is None or not _visible_to(review, user):
        raise ReviewNotFound()
    return review


async def of_order(
    session: AsyncSession, order_id: uuid.UUID, user: User, seller: SellerProfile | None
) -> list[Review]:
    """The order's reviews as the caller may see them: their own, and the other's once
    published."""
    order, _actors = await order_service.get_for(session, order_id, user, seller)
    return [r for r in await ReviewRepository(session).of_order(order.id) if _visible_to(r, user)]


async def reply(session: AsyncSession, review_id: uuid.UUID, user: User, text: str) -> Review:
    review = await ReviewRepository(session).get_for_update(review_id)
    if review is None or not _visible_to(review, user) or review.published_at is None:
        raise ReviewNotFound()
    if review.subject_user_id != user.id:
        raise NotReviewSubject()
    if review.reply is not None:
        raise AlreadyReplied()
    review.reply, review.replied_at = text, now()
    await session.flush()
    return review


async def hide(session: AsyncSession, review_id: uuid.UUID, admin: User, reason: str) -> Review:
    review = await ReviewRepository(session).get_for_update(review_id)
    if review is None or review.published_at is None:
        raise ReviewNotFound()
    review.hidden_at, review.hidden_reason = now(), reason
    await record_audit(
        session,
        actor_id=admin.id,
        action="review.hide",
        target_type="review",
        target_id=review.id,
        reason=reason,
    )
    await session.flush()
    return review


async def visible_about(
    session: AsyncSession, subject_user_id: uuid.UUID, about: ReviewedRole, page: PageParams
) -> tuple[list[Review], str | None]:
    """Published, not hidden reviews of a person in one role, newest first."""
    statement = ReviewRepository(session).visible_about(subject_user_id, about)
    keys = [SortKey(Review.published_at, descending=True), SortKey(Review.id, descending=True)]
    return await paginate(session, statement, keys=keys, page=page)


async def reputation(
    session: AsyncSession, subject_user_id: uuid.UUID, about: ReviewedRole
) -> Reputation:
    rows = await ReviewRepository(session).rating_counts(subject_user_id, about, now() - _YEAR)
    all_time = _period({rating: count for rating, count, _recent in rows})
    recent = _period({rating: recent for rating, _count, recent in rows})
    return Reputation(**all_time.model_dump(), last_12_months=recent)


def _period(counts: dict[int, int]) -> RatingPeriod:
    total = sum(counts.values())
    positive = counts.get(4, 0) + counts.get(5, 0)
    weighted = sum(rating * count for rating, count in counts.items())
    return RatingPeriod(
        average=round(weighted / total, 2) if total else 0.0,
        count=total,
        positive_share=round(positive / total, 4) if total else 0.0,
        distribution={str(r): counts.get(r, 0) for r in range(1, 6)},
    )


async def storefront(session: AsyncSession, seller_id: uuid.UUID) -> Storefront:
    profile = await seller_service.get_public(session, seller_id)
    assert profile.approved_at is not None  # public shops have been approved
    return Storefront(
        id=profile.id,
        shop_name=profile.shop_name,
        slug=profile.slug,
        description=profile.description,
        country=profile.country,
        joined_at=profile.approved_at,
        active_listing_count=await catalog_service.live_listing_count(session, profile.id),
        rating=await reputation(session, profile.user_id, ReviewedRole.seller),
    )


async def seller_user_id(session: AsyncSession, seller_id: uuid.UUID) -> uuid.UUID:
    return (await seller_service.get_public(session, seller_id)).user_id


async def user_profile(session: AsyncSession, user_id: uuid.UUID) -> UserProfile:
    user = await auth_service.get_user(session, user_id)
    return UserProfile(
        id=user.id,
        display_name=user.display_name,
        joined_at=user.created_at,
        buyer_rating=await reputation(session, user.id, ReviewedRole.buyer),
    )
