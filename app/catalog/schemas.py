import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.catalog.models import Condition, ListingStatus, ReportReason, ReportStatus
from app.core.money import Money, MoneyAboveZero, MoneyIn
from app.core.schemas import NOT_BLANK_PATTERN, WHOLE_NUMBER, RequestSchema, Schema

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


class ListingCreate(RequestSchema):
    title: Title
    description: Description = ""
    price: MoneyAboveZero
    quantity: Quantity = 1
    condition: Condition
    category_id: uuid.UUID
    attributes: Attributes = Field(default_factory=dict)
    shipping_fee: MoneyIn | None = Field(default=None, description="Omitted means free shipping")
    handling_days: HandlingDays = 2
    low_stock_threshold: LowStockThreshold = None


class ListingUpdate(RequestSchema):
    """Any subset of fields. Setting `quantity` to 0 sells a live listing out; raising it
    again restocks it. Only `low_stock_threshold` may be `null`; the others may be left out
    but not nulled."""

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
    handling_days: HandlingDays | SkipJsonSchema[None] = None
    low_stock_threshold: LowStockThreshold = Field(
        default=None, description="`null` turns the low-stock notice off"
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = [
            name
            for name in self.model_fields_set - {"low_stock_threshold"}
            if getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(sorted(nulls))}")
        return self


class ImageRead(Schema):
    id: uuid.UUID
    url: str
    content_type: str
    size_bytes: int
    position: int


class SellerSummary(Schema):
    id: uuid.UUID
    shop_name: str
    slug: str


class ListingRead(Schema):
    id: uuid.UUID
    seller: SellerSummary
    category_id: uuid.UUID
    title: str
    description: str
    price: Money
    shipping_fee: Money
    quantity: int
    condition: Condition
    attributes: dict[str, Any]
    handling_days: int
    low_stock_threshold: int | None = Field(description="Shown to the seller and admins only")
    status: ListingStatus
    status_reason: str | None = Field(description="Shown to the seller and admins only")
    images: list[ImageRead]
    published_at: datetime
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[str] = Field(description="What the caller may do now")


class ListingAdminRead(ListingRead):
    report_count: int


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
