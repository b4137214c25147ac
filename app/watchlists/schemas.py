import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from app.catalog.models import Condition
from app.catalog.schemas import ListingPublic
from app.core.money import Money, MoneyIn
from app.core.schemas import NO_NUL_PATTERN, NOT_BLANK_PATTERN, RequestSchema, Schema
from app.watchlists.models import AlertFrequency

# --- favourites ---------------------------------------------------------------------------------


class FavouriteCreate(RequestSchema):
    listing_id: uuid.UUID = Field(description="A listing for sale, or sold out")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"listing_id": "0192f1a4-5b7e-7c1d-9a3e-2f4b6c8d0e1f"}]}
    )


class FavouriteRead(Schema):
    listing_id: uuid.UUID
    listing: ListingPublic = Field(description="The listing as buyers see it now")
    price_when_favourited: Money
    price_now: Money
    favourited_at: datetime


# --- saved searches -----------------------------------------------------------------------------

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK_PATTERN)]
Query = Annotated[
    str,
    Field(
        max_length=200,
        pattern=NO_NUL_PATTERN,
        description="Words to find, as `q` of `GET /v1/listings` (each a prefix of a word of "
        "the title or description)",
    ),
]
CategoryRef = Annotated[
    str,
    Field(
        max_length=100,
        pattern=NO_NUL_PATTERN,
        description="Category id or slug; includes sub-categories",
    ),
]
Conditions = Annotated[
    list[Condition], Field(max_length=len(Condition), description="Any of them; empty: any")
]
_EXAMPLE: JsonDict = {
    "name": "Film cameras under $200",
    "query": "leica camera",
    "category": "cameras",
    "max_price": {"amount": 20000, "currency": "USD"},
    "conditions": ["like_new", "good"],
    "frequency": "daily",
}


class SavedSearchCreate(RequestSchema):
    """A search of `GET /v1/listings` to be told about: its words and filters (at least
    `query`, `category` or `seller_id`), and how often."""

    name: Name
    query: Query | None = None
    category: CategoryRef | None = None
    min_price: MoneyIn | None = Field(default=None, description="Lowest unit price")
    max_price: MoneyIn | None = Field(default=None, description="Highest unit price")
    conditions: Conditions = Field(default_factory=list)
    seller_id: uuid.UUID | None = Field(default=None, description="Only this shop's listings")
    frequency: AlertFrequency = Field(
        default=AlertFrequency.instant,
        description="`instant`: a notice as new listings match; `daily`: one digest a day",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


_NULLABLE = frozenset({"query", "category", "min_price", "max_price", "seller_id"})


class SavedSearchUpdate(RequestSchema):
    """Any subset of fields; `query`, `category`, `min_price`, `max_price` and `seller_id`
    may be `null` (no such filter), the others may be left out but not nulled."""

    name: Name | SkipJsonSchema[None] = None
    query: Query | None = None
    category: CategoryRef | None = None
    min_price: MoneyIn | None = None
    max_price: MoneyIn | None = None
    conditions: Conditions | SkipJsonSchema[None] = None
    seller_id: uuid.UUID | None = None
    frequency: AlertFrequency | SkipJsonSchema[None] = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"max_price": {"amount": 15000, "currency": "USD"}}]}
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = [n for n in self.model_fields_set - _NULLABLE if getattr(self, n) is None]
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(sorted(nulls))}")
        return self


class SavedSearchRead(Schema):
    id: uuid.UUID
    name: str
    query: str | None
    category_id: uuid.UUID | None = Field(description="Its subtree is searched")
    min_price: Money | None
    max_price: Money | None
    conditions: list[Condition]
    seller_id: uuid.UUID | None
    frequency: AlertFrequency
    created_at: datetime
    updated_at: datetime
