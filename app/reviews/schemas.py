import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.core.schemas import WHOLE_NUMBER, RequestSchema, Schema
from app.reviews.models import ReviewedRole
from app.sellers.schemas import ShopPublic


class ReviewCreate(RequestSchema):
    rating: Annotated[int, Field(strict=True, ge=1, le=5, examples=[5]), WHOLE_NUMBER]
    comment: str = Field(min_length=1, max_length=2000, examples=["Fast shipping, as described."])


class ReplyCreate(RequestSchema):
    reply: str = Field(min_length=1, max_length=2000)


class HideRequest(RequestSchema):
    reason: str = Field(min_length=1, max_length=2000)


class ReviewedItemRead(Schema):
    listing_id: uuid.UUID
    title: str = Field(description="The listing's title when it was bought")


class ReviewRead(Schema):
    id: uuid.UUID
    order_id: uuid.UUID
    author_id: uuid.UUID
    author_display_name: str = Field(
        description='The author\'s display name ("Deleted user" once their account is erased)'
    )
    subject_user_id: uuid.UUID
    about: ReviewedRole = Field(description="What the reviewed person was in the order")
    shop_id: uuid.UUID | None = Field(
        description="The reviewed shop, when a shop is reviewed (`about` is `seller`); else null"
    )
    shop_name: str | None = Field(description="That shop's name; null when a buyer is reviewed")
    items: list[ReviewedItemRead] = Field(description="What the reviewed order held")
    rating: int
    comment: str
    created_at: datetime
    published: bool = Field(
        description="False until both parties have written or the review window closed; "
        "until then only its author can see it"
    )
    published_at: datetime | None
    hidden: bool = Field(description="Hidden by an admin: out of lists and aggregates")
    hidden_reason: str | None = Field(description="Shown to the parties only")
    reply: str | None
    replied_at: datetime | None


class RatingPeriod(Schema):
    average: float = Field(description="Mean rating 1 to 5, two decimals; 0 with no reviews")
    count: int
    positive_share: float = Field(description="Share of 4 and 5 star reviews, 0 to 1")
    distribution: dict[str, int] = Field(description='Reviews per rating, "1" to "5"')


class Reputation(RatingPeriod):
    """Published, visible reviews of one person in one role: all time, and the last 12
    months."""

    last_12_months: RatingPeriod


class Storefront(ShopPublic):
    """A shop's public page, whatever the shop's state (see `status`, `accepting_orders`)."""

    active_listing_count: int = Field(description="Listings for sale now (0 unless accepting)")
    rating: Reputation


class UserProfile(Schema):
    """What anyone may see of a person: their name and their reputation as a buyer."""

    id: uuid.UUID
    display_name: str
    joined_at: datetime
    buyer_rating: Reputation
