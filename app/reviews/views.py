"""Reviews, reputations and public profiles as the API shows them."""

from app.reviews.models import Review
from app.reviews.schemas import RatingPeriod, Reputation, ReviewRead, Storefront, UserProfile
from app.reviews.service import PublicPerson, PublicShop, Ratings


def review_read(review: Review) -> ReviewRead:
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


def review_list(reviews: list[Review]) -> list[ReviewRead]:
    return [review_read(r) for r in reviews]


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
    profile = shop.profile
    assert profile.approved_at is not None  # public shops have been approved
    return Storefront(
        id=profile.id,
        shop_name=profile.shop_name,
        slug=profile.slug,
        description=profile.description,
        country=profile.country,
        joined_at=profile.approved_at,
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
