"""Reviews: each party of a completed order reviews the other once, blind; both publish
together when both have written or when the review window closes."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import User
from app.auth.principal import Principal
from app.catalog import service as catalog_service
from app.core.audit import record_audit
from app.core.clock import now
from app.core.errors import AppError
from app.core.guards import Guarded
from app.core.pagination import PageParams, SortKey, paginate
from app.orders import service as order_service
from app.orders.models import EventSubject, Order
from app.orders.state import OrderActor
from app.reviews.events import ReviewEventType
from app.reviews.exceptions import (
    AlreadyReplied,
    AlreadyReviewed,
    NotOrderParty,
    NotReviewSubject,
    OrderNotReviewable,
    ReviewNotFound,
    ReviewWindowClosed,
)
from app.reviews.models import Review, ReviewedRole, ReviewRole
from app.reviews.repository import ReviewRepository
from app.reviews.schemas import ReviewCreate
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile

_YEAR = timedelta(days=365)
_WRITTEN = "written"
_PUBLISHED = "published"


def roles_of(review: Review, principal: Principal | None) -> frozenset[ReviewRole]:
    if principal is None:
        return frozenset()
    roles: set[ReviewRole] = set()
    if review.author_id == principal.user_id:
        roles.add(ReviewRole.author)
    if review.subject_user_id == principal.user_id:
        roles.add(ReviewRole.subject)
    if principal.is_admin:
        roles.add(ReviewRole.admin)
    return frozenset(roles)


async def get_visible(
    session: AsyncSession, principal: Principal | None, review_id: uuid.UUID, *, lock: bool
) -> Guarded[Review, ReviewRole]:
    """A review the caller (or the public) may see, with their roles on it; 404 otherwise,
    decided by the query. `lock` holds its row for the rest of the transaction."""
    review = await ReviewRepository(session).get_visible(principal, review_id, lock=lock)
    if review is None:
        raise ReviewNotFound()
    return Guarded(review, roles_of(review, principal))


def review_refusal(order: Order) -> AppError | None:
    """Why neither party may review the order now (None: its review window is open): the
    rule `write` enforces and the order's screen offers `review` by."""
    if order.completed_at is None or order.review_deadline is None:
        return OrderNotReviewable(f"the order is {order.status.value}")
    if order.review_deadline <= now():
        return ReviewWindowClosed(f"reviews closed at {order.review_deadline.isoformat()}")
    return None


async def write(
    session: AsyncSession,
    principal: Principal,
    order: Guarded[Order, OrderActor],
    *,
    data: ReviewCreate,
) -> Review:
    # The order's guard holds its row lock, which serialises the two parties: the second
    # review always sees the first and publishes both.
    subject, actors = order.subject, order.roles
    if OrderActor.buyer in actors:
        about, role = ReviewedRole.seller, OrderActor.buyer
        subject_id = (await seller_service.get(session, subject.seller_id)).user_id
    elif OrderActor.seller in actors:
        about, role, subject_id = ReviewedRole.buyer, OrderActor.seller, subject.buyer_id
    else:
        raise NotOrderParty()
    refusal = review_refusal(subject)
    if refusal is not None:
        raise refusal
    assert subject.review_deadline is not None  # review_refusal saw to it
    reviews = ReviewRepository(session)
    existing = await reviews.of_order(subject.id)
    if any(r.about is about for r in existing):
        raise AlreadyReviewed()
    review = Review(
        order_id=subject.id,
        author_id=principal.user_id,
        subject_user_id=subject_id,
        about=about,
        rating=data.rating,
        comment=data.comment,
        window_closes_at=subject.review_deadline,
    )
    await reviews.save_unique(review, AlreadyReviewed())
    # The timeline says who wrote, never what: the rating stays blind until publication.
    await order_service.record_event(
        session,
        subject.id,
        EventSubject.review,
        review.id,
        None,
        action="write",
        actor_role=role.value,
        actor_id=principal.user_id,
        change=(None, _WRITTEN),
    )
    if existing:
        await publish(session, subject.id)
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
            ReviewEventType.published,
            action="publish",
            actor_role=OrderActor.system.value,
            actor_id=None,
            change=(_WRITTEN, _PUBLISHED),
            details={"about": review.about.value},
        )
    return len(pending)


async def of_order(
    session: AsyncSession, principal: Principal, order: Guarded[Order, OrderActor]
) -> list[Review]:
    """The order's reviews as the caller may see them: their own, and the other's once
    published."""
    return await ReviewRepository(session).visible_of_order(principal, order.subject.id)


async def reply(session: AsyncSession, review: Guarded[Review, ReviewRole], *, text: str) -> Review:
    """The reviewed person answers, once; their guard holds the review's row lock."""
    subject = review.subject
    if subject.published_at is None:
        raise ReviewNotFound()
    if ReviewRole.subject not in review.roles:
        raise NotReviewSubject()
    if subject.reply is not None:
        raise AlreadyReplied()
    subject.reply, subject.replied_at = text, now()
    await session.flush()
    return subject


async def hide(
    session: AsyncSession, principal: Principal, review: Guarded[Review, ReviewRole], *, reason: str
) -> Review:
    subject = review.subject
    if subject.published_at is None:
        raise ReviewNotFound()
    subject.hidden_at, subject.hidden_reason = now(), reason
    await record_audit(
        session,
        actor_id=principal.user_id,
        action="review.hide",
        target_type="review",
        target_id=subject.id,
        reason=reason,
    )
    await session.flush()
    return subject


async def visible_about(
    session: AsyncSession, subject_user_id: uuid.UUID, about: ReviewedRole, *, page: PageParams
) -> tuple[list[Review], str | None]:
    """Published, not hidden reviews of a person in one role, newest first."""
    statement = ReviewRepository(session).visible_about(subject_user_id, about)
    keys = [SortKey(Review.published_at, descending=True), SortKey(Review.id, descending=True)]
    return await paginate(session, statement, keys=keys, page=page)


async def visible_about_user(
    session: AsyncSession, user_id: uuid.UUID, *, page: PageParams
) -> tuple[list[Review], str | None]:
    """Sellers' published, not hidden reviews of a person as a buyer, newest first; 404 for
    an unknown (or erased) person, as their profile."""
    user = await auth_service.get_user(session, user_id)
    return await visible_about(session, user.id, ReviewedRole.buyer, page=page)


async def visible_about_listing(
    session: AsyncSession, listing_id: uuid.UUID, *, page: PageParams
) -> tuple[list[Review], str | None]:
    """Buyers' published, not hidden reviews of orders that contained a listing anyone may
    see, newest first; 404 for a listing the public may not see."""
    await catalog_service.get_visible(session, None, listing_id)
    statement = ReviewRepository(session).visible_about_listing(listing_id)
    keys = [SortKey(Review.published_at, descending=True), SortKey(Review.id, descending=True)]
    return await paginate(session, statement, keys=keys, page=page)


@dataclass(frozen=True, slots=True)
class ReviewedItem:
    listing_id: uuid.UUID
    title: str


@dataclass(frozen=True, slots=True)
class ReviewFacts:
    """What a review card shows beside the review: who wrote it, the shop when a shop is
    reviewed, and what the order held."""

    author_display_name: str
    shop_id: uuid.UUID | None
    shop_name: str | None
    items: list[ReviewedItem]


async def facts_of(session: AsyncSession, reviews: list[Review]) -> dict[uuid.UUID, ReviewFacts]:
    """{review id: its facts}, for any number of reviews in two queries."""
    if not reviews:
        return {}
    repository = ReviewRepository(session)
    items: dict[uuid.UUID, list[ReviewedItem]] = {}
    for order_id, listing_id, title in await repository.order_items({r.order_id for r in reviews}):
        items.setdefault(order_id, []).append(ReviewedItem(listing_id, title))
    about = {r.id: r for r in reviews}
    facts = {}
    for review_id, author_name, shop_id, shop_name in await repository.authors_and_shops(
        list(about)
    ):
        review = about[review_id]
        shop_reviewed = review.about is ReviewedRole.seller
        facts[review_id] = ReviewFacts(
            author_display_name=author_name,
            shop_id=shop_id if shop_reviewed else None,
            shop_name=shop_name if shop_reviewed else None,
            items=items.get(review.order_id, []),
        )
    return facts


async def visible_about_shop(
    session: AsyncSession, seller_id: uuid.UUID, *, page: PageParams
) -> tuple[list[Review], str | None]:
    """Buyers' published, not hidden reviews of a public shop, newest first."""
    profile = await seller_service.get_public(session, seller_id)
    return await visible_about(session, profile.user_id, ReviewedRole.seller, page=page)


@dataclass(frozen=True, slots=True)
class Ratings:
    """How many published, visible reviews of one person in one role gave each rating (1
    to 5; absent: none)."""

    all_time: dict[int, int]
    last_12_months: dict[int, int]


async def ratings(
    session: AsyncSession, subject_user_id: uuid.UUID, about: ReviewedRole
) -> Ratings:
    rows = await ReviewRepository(session).rating_counts(subject_user_id, about, now() - _YEAR)
    return Ratings(
        all_time={rating: count for rating, count, _recent in rows},
        last_12_months={rating: recent for rating, _count, recent in rows},
    )


@dataclass(frozen=True, slots=True)
class PublicShop:
    """What a shop's public page shows."""

    profile: SellerProfile
    live_listing_count: int
    ratings: Ratings


async def storefront(session: AsyncSession, seller_id: uuid.UUID) -> PublicShop:
    profile = await seller_service.get_public(session, seller_id)
    return PublicShop(
        profile=profile,
        live_listing_count=await catalog_service.live_listing_count(session, profile.id),
        ratings=await ratings(session, profile.user_id, ReviewedRole.seller),
    )


@dataclass(frozen=True, slots=True)
class PublicPerson:
    """What anyone may see of a person."""

    user: User
    buyer_ratings: Ratings


async def user_profile(session: AsyncSession, user_id: uuid.UUID) -> PublicPerson:
    user = await auth_service.get_user(session, user_id)
    return PublicPerson(user, await ratings(session, user.id, ReviewedRole.buyer))
