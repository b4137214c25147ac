import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from app.core.schemas import NO_NUL_PATTERN, RequestSchema, Schema


def _json_number(value: object) -> object:
    """A percent comes as a JSON number (strings and booleans are refused, as the schema
    says)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return Decimal(str(value))


Percent = Annotated[
    Decimal,
    BeforeValidator(_json_number),
    Field(ge=0, le=100, max_digits=5, decimal_places=2),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "maximum": 100,
            "multipleOf": 0.01,
            "description": "0 to 100, two decimals",
        }
    ),
]

_EXAMPLE: dict[str, Any] = {
    "category_id": "0192f1c4-3c1a-7b5e-9a1e-5d2f8c7b6a10",
    "percent": 8.5,
    "starts_at": "2027-01-01T00:00:00Z",
    "ends_at": None,
    "note": "Electronics: lower margin category",
}


class CommissionRuleCreate(RequestSchema):
    """A commission percent for one category (and its subtree) or one shop; give exactly
    one of `category_id` and `seller_id`."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    category_id: uuid.UUID | None = None
    seller_id: uuid.UUID | None = None
    percent: Percent
    starts_at: AwareDatetime | None = Field(default=None, description="Default: now")
    ends_at: AwareDatetime | None = Field(default=None, description="Exclusive; null: open")
    note: str | None = Field(default=None, max_length=500, pattern=NO_NUL_PATTERN)

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        if (self.category_id is None) == (self.seller_id is None):
            raise ValueError("give exactly one of category_id and seller_id")
        return self


class CommissionRuleUpdate(RequestSchema):
    """The fields to change; the scope of a rule cannot change (delete it and make another)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"percent": 7.5}]})

    percent: Percent | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=500, pattern=NO_NUL_PATTERN)


class CommissionRuleRead(Schema):
    id: uuid.UUID
    category_id: uuid.UUID | None
    seller_id: uuid.UUID | None
    percent: float = Field(
        description="Of a line's sale: price and shipping less shop-funded discounts"
    )
    starts_at: datetime
    ends_at: datetime | None
    note: str | None
    created_at: datetime
    updated_at: datetime
