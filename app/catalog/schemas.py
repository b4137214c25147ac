import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, StrictBool, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.catalog.models import MAX_ALT_TEXT, Condition, ListingStatus, ReportReason, ReportStatus
from app.core.money import Money, MoneyAboveZero, MoneyIn
from app.core.schemas import (
    NO_NUL_PATTERN,
    NOT_BLANK_PATTERN,
    WHOLE_NUMBER,
    Page,
    RequestSchema,
    Schema,
)
from app.sellers.models import SellerStatus

MAX_ATTRIBUTES = 30
MAX_QUANTITY = 1_000_000

Title = Annotated[str, Field(min_length=3, max_length=140, pattern=NOT_BLANK_PATTERN)]
Description = Annotated[str, Field(max_length=10_000)]
Quantity = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY), WHOLE_NUMBER]
HandlingDays = Annotated[
    int, Field(strict=True, ge=0, le=30, description="Business days to ship"), WHOLE_NUMBER
]
LowStockThreshold = Annotated[
    Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY), WHOLE_NUMBER] | None,
    Field(description="Notify the seller when the quantity falls to this (null: never)"),
]
ShippingProfileId = Annotated[
    uuid.UUID | None,
    Field(
        description="One of your shop's shipping profiles (`/v1/sellers/me/shipping-profiles`), "
        "in the listing's currency: it charges the listing's shipping, combined with the "
        "order's other items on it, instead of the flat `shipping_fee`; null: the flat fee"
    ),
]
CategoryPosition = Annotated[int, Field(strict=True, ge=0, le=10_000), WHOLE_NUMBER]
Attributes = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=50)], Annotated[str, Field(max_length=200)]],
    Field(max_length=MAX_ATTRIBUTES, description='Free key/value details, e.g. {"color": "red"}'),
]


# --- categories -------------------------------------------------------------------------------


class CategoryNode(Schema):
    id: uuid.UUID
    name: str
    slug: str
    parent_id: uuid.UUID | None
    position: int
    children: list["CategoryNode"] = Field(default_factory=list)


class CategoryRead(Schema):
    id: uuid.UUID
    name: str
    slug: str
    parent_id: uuid.UUID | None
    position: int


class CategoryCreate(RequestSchema):
    name: str = Field(min_length=1, max_length=80, pattern=NOT_BLANK_PATTERN)
    slug: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        max_length=100,
        description="Derived from the name when omitted",
    )
    parent_id: uuid.UUID | None = None
    position: CategoryPosition = 0


class CategoryUpdate(RequestSchema):
    """Send `parent_id: null` to make it a root; moving under its own subtree is refused."""

    name: str | None = Field(default=None, min_length=1, max_length=80, pattern=NOT_BLANK_PATTERN)
    slug: str | None = Field(default=None, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100)
    parent_id: uuid.UUID | None = None
    position: CategoryPosition | None = None


# --- listings ---------------------------------------------------------------------------------

# The fields of an update that `null` clears rather than being refused.
_NULLABLE_UPDATES = frozenset({"low_stock_threshold", "shipping_profile_id", "offer_floor"})

AcceptsOffers = Annotated[
    StrictBool,
    Field(description="Buyers may offer a price below the asking one (`/v1/listings/{id}/offers`)"),
]
OfferFloor = Annotated[
    MoneyAboveZero | None,
    Field(
        description="Offers below this unit price are declined at once, without bothering "
        "you; below the price; shown to you only; null: none"
    ),
]


class ListingCreate(RequestSchema):
    title: Title
    description: Description = ""
    price: MoneyAboveZero
    quantity: Quantity = 1
    condition: Condition
    category_id: uuid.UUID
    attributes: Attributes = Field(default_factory=dict)
    shipping_fee: MoneyIn | None = Field(
        default=None,
        description="Shipping per order line, charged when the listing has no shipping "
        "profile; omitted means free shipping",
    )
    shipping_profile_id: ShippingProfileId = None
    handling_days: HandlingDays = 2
    low_stock_threshold: LowStockThreshold = None
    accepts_offers: AcceptsOffers = False
    offer_floor: OfferFloor = None


class ListingUpdate(RequestSchema):
    """Any subset of fields. Setting `quantity` to 0 sells a live listing out; raising it
    again restocks it. Only `low_stock_threshold` and `shipping_profile_id` may be `null`;
    the others may be left out but not nulled."""

    # SkipJsonSchema: absent (None here) is fine, an explicit null is refused below, so the
    # spec must not call these fields nullable.
    title: Title | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    price: MoneyAboveZero | SkipJsonSchema[None] = None
    quantity: Quantity | SkipJsonSchema[None] = None
    condition: Condition | SkipJsonSchema[None] = None
    category_id: uuid.UUID | SkipJsonSchema[None] = None
    attributes: Attributes | SkipJsonSchema[None] = None
    shipping_fee: MoneyIn | SkipJsonSchema[None] = None
    shipping_profile_id: ShippingProfileId = Field(
        default=None,
        description="One of your shop's shipping profiles, in the listing's currency; `null` "
        "goes back to the flat `shipping_fee`",
    )
    handling_days: HandlingDays | SkipJsonSchema[None] = None
    low_stock_threshold: LowStockThreshold = Field(
        default=None, description="`null` turns the low-stock notice off"
    )
    accepts_offers: AcceptsOffers | SkipJsonSchema[None] = None
    offer_floor: OfferFloor = Field(default=None, description="`null` removes the floor")

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = [
            name
            for name in self.model_fields_set - _NULLABLE_UPDATES
            if getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(sorted(nulls))}")
        return self


class ImageUrls(Schema):
    """Absolute URLs of one image's sizes (images uploaded before sizes were derived show
    the original in all three)."""

    thumbnail: str = Field(description="At most 320 px on its longest side: result cards")
    medium: str = Field(description="At most 1024 px on its longest side: the listing page")
    original: str = Field(description="The file as uploaded, byte for byte")


class ImageRead(Schema):
    id: uuid.UUID
    url: str = Field(description="Absolute URL of the original (the same as `urls.original`)")
    urls: ImageUrls
    alt_text: str = Field(description="What the image shows, for screen readers (may be empty)")
    width: int | None = Field(description="Pixels, as displayed; null for older uploads")
    height: int | None
    content_type: str
    size_bytes: int
    position: int = Field(description="Display order, from 0")


AltText = Annotated[str, Field(max_length=MAX_ALT_TEXT, pattern=NO_NUL_PATTERN)]


class ImageUpdate(RequestSchema):
    """Either or both; a field left out stays as it is."""

    alt_text: AltText | SkipJsonSchema[None] = None
    position: (
        Annotated[int, Field(strict=True, ge=0, le=1000), WHOLE_NUMBER] | SkipJsonSchema[None]
    ) = Field(
        default=None,
        description="Move the image to this place in the display order (0: first); the "
        "others keep their order around it. Past the end: last",
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(sorted(nulls))}")
        return self


class SellerSummary(Schema):
    id: uuid.UUID = Field(description="The shop's id")
    shop_name: str
    slug: str


class ListingPublicStatus(StrEnum):
    """A listing's state as buyers see it: its own state with its shop's folded in."""

    active = "active"
    paused = "paused"
    sold_out = "sold_out"
    archived = "archived"
    removed = "removed"
    shop_suspended = "shop_suspended"
    shop_closed = "shop_closed"
    draft = "draft"
    pending_review = "pending_review"
    rejected = "rejected"


_PUBLIC_STATUS = (
    "`active` (for sale), `sold_out`, `paused`, `archived` (ended by its seller), `removed` "
    "(taken down by moderation: description and images withheld), `shop_suspended`, "
    "`shop_closed` (the shop's state outweighs the listing's, except `removed`). `draft`, "
    "`pending_review` and `rejected` only ever appear in the owner's or an admin's preview."
)


class _ListingFields(Schema):
    id: uuid.UUID
    seller: SellerSummary
    category_id: uuid.UUID
    title: str
    description: str
    price: Money
    shipping_fee: Money = Field(
        description="Flat shipping per order line, charged when the listing has no shipping "
        "profile (a listing on a profile: the cart shows its combined shipping)"
    )
    quantity: int
    condition: Condition
    attributes: dict[str, Any]
    handling_days: int
    accepts_offers: bool = Field(description="Buyers may make an offer on it")
    for_sale: bool = Field(description="Can be put in a cart and bought now")
    images: list[ImageRead]
    published_at: datetime | None = Field(description="When it last went live; null until then")
    created_at: datetime
    updated_at: datetime


class ListingPublic(_ListingFields):
    """A listing as buyers see it (search results, the listing page)."""

    status: ListingPublicStatus = Field(description=_PUBLIC_STATUS)


class ListingRead(_ListingFields):
    """A listing as its seller (and admins) see it: its own lifecycle state, what only they
    see, and what the caller may do."""

    status: ListingStatus = Field(description="The listing's own lifecycle state")
    shop_status: SellerStatus = Field(description="The shop's state (`approved`: it may sell)")
    shipping_profile_id: uuid.UUID | None = Field(
        description="The shipping profile that charges its shipping; null: the flat "
        "`shipping_fee` per order line"
    )
    low_stock_threshold: int | None
    offer_floor: Money | None = Field(
        description="Offers below it are declined at once (only you see it); null: none"
    )
    status_reason: str | None = Field(description="Why moderation holds, rejected or removed it")
    favourite_count: int = Field(description="How many people keep it as a favourite")
    allowed_actions: list[str] = Field(description="What the caller may do now")


class SellerListingsPage(Page[ListingRead]):
    """A page of the seller's own listings, with the count of each state for the screen's
    tabs."""

    counts: dict[ListingStatus, int] = Field(
        description="Listings per state, over the `q` filter but not `status` (states with "
        "none are left out)"
    )


class ListingAdminRead(ListingRead):
    report_count: int


# --- search results: a count and facets --------------------------------------------------------

SEARCH_COUNT_CAP = 10_000
"""Counting stops here: past it a result count says "10,000+" and costs no more."""

# The price bands of the price facet: (key, lowest price, highest price) in minor units of
# the platform's currency, each band's bounds inclusive as `min_price`/`max_price` are (a
# band's `max` is one below the next band's `min`); None: unbounded.
PRICE_BANDS: tuple[tuple[str, int | None, int | None], ...] = (
    ("under_10", None, 999),
    ("10_to_25", 1_000, 2_499),
    ("25_to_50", 2_500, 4_999),
    ("50_to_100", 5_000, 9_999),
    ("100_to_250", 10_000, 24_999),
    ("250_to_500", 25_000, 49_999),
    ("500_and_over", 50_000, None),
)


class CategoryFacet(Schema):
    id: uuid.UUID
    name: str
    slug: str
    count: int = Field(description="Matches in this category and its sub-categories")


class ConditionFacet(Schema):
    condition: Condition
    count: int


class PriceBandFacet(Schema):
    key: str = Field(description="Stable name of the band, e.g. `25_to_50`")
    min_price: Money | None = Field(description="Lowest price in the band; null: no floor")
    max_price: Money | None = Field(description="Highest price in the band; null: no ceiling")
    count: int


class SearchFacets(Schema):
    """How the matches spread, each facet over the search's filters except its own (so
    picking another condition shows what it would find). Entries with no match are left
    out."""

    categories: list[CategoryFacet] = Field(
        description="Per child of the `category` filtered on, or per top-level category"
    )
    conditions: list[ConditionFacet]
    price_bands: list[PriceBandFacet] = Field(
        description="The fixed bands of the platform's currency: under 10, 10-25, 25-50, "
        "50-100, 100-250, 250-500, 500 and over (in major units)"
    )
    capped: bool = Field(
        description=f"True when a facet's filters match more than {SEARCH_COUNT_CAP:,} "
        f"listings: its counts then cover the first {SEARCH_COUNT_CAP:,} of them in the "
        "order asked for (lower bounds)"
    )


class ListingSearchPage(Page[ListingPublic]):
    """A page of search results, with the result count on the first page and, when asked
    for, the facets."""

    total: int | None = Field(
        description=f"How many listings match, counted up to {SEARCH_COUNT_CAP:,}; on the "
        "first page only (null with a `cursor`: the count does not change between pages)"
    )
    total_capped: bool = Field(
        description=f"True when more than {SEARCH_COUNT_CAP:,} match: `total` is then "
        f'{SEARCH_COUNT_CAP:,}, a lower bound (show it as "10,000+")'
    )
    facets: SearchFacets | None = Field(description="With `facets=true` only")


class SearchSort(StrEnum):
    relevance = "relevance"
    newest = "newest"
    price_asc = "price_asc"
    price_desc = "price_desc"


class ModerationDecision(RequestSchema):
    reason: str = Field(min_length=1, max_length=2000)


class ReportCreate(RequestSchema):
    reason: ReportReason
    details: str | None = Field(default=None, max_length=2000)


class ReportRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    reporter_id: uuid.UUID
    reason: ReportReason
    details: str | None
    created_at: datetime
    status: ReportStatus = Field(
        description="`open` until an admin decides: `dismissed` (left up) or `upheld` (removed)"
    )
    resolved_at: datetime | None
    resolution_reason: str | None = Field(description="The admin's words to the reporter")


class ReportDismissal(RequestSchema):
    report_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Only these open reports; left out: every open report of the listing",
    )
    reason: str | None = Field(
        default=None,
        max_length=1000,
        description="Told to the reporters with the outcome (and kept in the audit log)",
    )
