"""Reviews, reputations and public profiles as the API shows them."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.schemas import Page
from app.reviews import service
from app.reviews.models import Review
from app.reviews.schemas import (
    RatingPeriod,
    Reputation,
    ReviewedItemRead,
    ReviewRead,
    Storefront,
    UserProfile,
)
from app.reviews.service import PublicPerson, PublicShop, Ratings, ReviewFacts
from app.sellers import views as seller_views


def _review_read(review: Review, facts: ReviewFacts) -> ReviewRead:
    return ReviewRead(
        id=review.id,
        order_id=review.order_id,
        author_id=review.author_id,
        author_display_name=facts.author_display_name,
        subject_user_id=review.subject_user_id,
        about=review.about,
        shop_id=facts.shop_id,
        shop_name=facts.shop_name,
        items=[ReviewedItemRead(listing_id=i.listing_id, title=i.title) for i in facts.items],
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


async def review_list(session: AsyncSession, reviews: list[Review]) -> list[ReviewRead]:
    facts = await service.facts_of(session, reviews)
    return [_review_read(r, facts[r.id]) for r in reviews]


async def review_read(session: AsyncSession, review: Review) -> ReviewRead:
    (read,) = await review_list(session, [review])
    return read


async def review_page(
    session: AsyncSession, rows: list[Review], next_cursor: str | None
) -> Page[ReviewRead]:
    return Page(items=await review_list(session, rows), next_cursor=next_cursor)


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


def reputation_read(ratings: Ratings) -> Reputation:
    return Reputation(
        **_period(ratings.all_time).model_dump(),
        last_12_months=_period(ratings.last_12_months),
    )


def storefront_read(shop: PublicShop) -> Storefront:
    return Storefront(
        **seller_views.public_fields(shop.profile),
        active_listing_count=shop.live_listing_count,
        rating=reputation_read(shop.ratings),
    )


def user_profile_read(person: PublicPerson) -> UserProfile:
    return UserProfile(
        id=person.user.id,
        display_name=person.user.display_name,
        joined_at=person.user.created_at,
        buyer_rating=reputation_read(person.buyer_ratings),
    )
