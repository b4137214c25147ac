import itertools
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from app.core.money import Money, MoneyAboveZero, MoneyIn
from app.core.schemas import NOT_BLANK_PATTERN, WHOLE_NUMBER, RequestSchema, Schema
from app.promotions.models import FundedBy, PromotionKind

MAX_TIERS = 5
MAX_RESTRICTION_IDS = 100
MAX_REDEMPTIONS = 10**9

PromotionName = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK_PATTERN)]
CouponCode = Annotated[
    str,
    Field(
        min_length=3,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="3 to 32 letters, digits, `-` and `_`, starting with a letter or digit. "
        "Matched whatever its case and shown in upper case; unique among all promotions",
        examples=["SUMMER10"],
    ),
]
Percent = Annotated[int, Field(strict=True, ge=1, le=100), WHOLE_NUMBER]
RedemptionLimit = Annotated[int, Field(strict=True, ge=1, le=MAX_REDEMPTIONS), WHOLE_NUMBER]
RestrictionIds = Annotated[list[uuid.UUID], Field(max_length=MAX_RESTRICTION_IDS)]


class TierIn(RequestSchema):
    min_subtotal: MoneyAboveZero = Field(
        description="Spend at least this on the items the promotion applies to ..."
    )
    discount: MoneyAboveZero = Field(description="... and save this")


class PromotionStatus(StrEnum):
    scheduled = "scheduled"
    """Its `starts_at` is still ahead."""
    active = "active"
    """Checkouts may use it now (unless it is used up: see `redemptions`)."""
    ended = "ended"
    """Past its `ends_at`, or ended early. An ended promotion does not change any more."""


_KIND_FIELDS: dict[PromotionKind, frozenset[str]] = {
    PromotionKind.percent: frozenset({"percent", "max_discount"}),
    PromotionKind.fixed: frozenset({"amount_off"}),
    PromotionKind.threshold: frozenset({"tiers"}),
}
_REQUIRED_OF_KIND = {
    PromotionKind.percent: "percent",
    PromotionKind.fixed: "amount_off",
    PromotionKind.threshold: "tiers",
}
KIND_FIELDS = frozenset().union(*_KIND_FIELDS.values())


def check_terms(values: dict[str, Any]) -> None:
    """The rules across fields of a whole promotion (`values`: its fields by name, parsed),
    on creation and on the promotion an edit would leave."""
    kind = PromotionKind(values["kind"])
    required = _REQUIRED_OF_KIND[kind]
    if values.get(required) is None:
        raise ValueError(f"a {kind.value} promotion needs `{required}`")
    foreign = sorted(
        name for name in KIND_FIELDS - _KIND_FIELDS[kind] if values.get(name) is not None
    )
    if foreign:
        raise ValueError(f"a {kind.value} promotion has no {', '.join(foreign)}")
    tiers = values.get("tiers") or []
    for before, after in itertools.pairwise(tiers):
        if after.min_subtotal.amount <= before.min_subtotal.amount:
            raise ValueError("tiers must be in ascending order of `min_subtotal`, without repeats")
        if after.discount.amount <= before.discount.amount:
            raise ValueError("a higher tier must save more than the one below it")
    for tier in tiers:
        if tier.discount.amount > tier.min_subtotal.amount:
            raise ValueError("a tier cannot save more than its `min_subtotal`")
    starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValueError("`ends_at` must be after `starts_at`")


_PROMOTION_EXAMPLE: JsonDict = {
    "name": "Summer sale",
    "kind": "percent",
    "percent": 10,
    "max_discount": {"amount": 2000, "currency": "USD"},
    "code": "SUMMER10",
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2036-09-01T00:00:00Z",
    "max_redemptions": 500,
    "max_per_buyer": 1,
    "min_order_amount": {"amount": 3000, "currency": "USD"},
}
_THRESHOLD_EXAMPLE: JsonDict = {
    "name": "Spend more, save more",
    "kind": "threshold",
    "tiers": [
        {
            "min_subtotal": {"amount": 5000, "currency": "USD"},
            "discount": {"amount": 500, "currency": "USD"},
        },
        {
            "min_subtotal": {"amount": 10000, "currency": "USD"},
            "discount": {"amount": 1500, "currency": "USD"},
        },
    ],
}


class PromotionCreate(RequestSchema):
    """A shop's promotion: it applies to the shop's own listings only, and the shop pays for
    it (`funded_by: shop`). Give `percent` (and optionally `max_discount`) for a `percent`
    promotion, `amount_off` for a `fixed` one, `tiers` for a `threshold` one, and none of the
    others' fields."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PROMOTION_EXAMPLE]})

    name: PromotionName = Field(description="What buyers see on their checkout and orders")
    kind: PromotionKind
    percent: Percent | None = Field(default=None, description="`percent` kind: 1 to 100")
    max_discount: MoneyAboveZero | None = Field(
        default=None, description="`percent` kind: the most it takes off one checkout"
    )
    amount_off: MoneyAboveZero | None = Field(
        default=None,
        description="`fixed` kind: taken off the items it applies to (never more than they cost)",
    )
    tiers: list[TierIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TIERS,
        description="`threshold` kind: spend X, save Y, in ascending order; the highest tier "
        "the items reach applies",
    )
    code: CouponCode | None = Field(
        default=None,
        description="What a buyer enters at checkout; null: automatic (applies to every "
        "checkout it can, without a code)",
    )
    starts_at: AwareDatetime | None = Field(
        default=None, description="With a time zone; null: from now"
    )
    ends_at: AwareDatetime | None = Field(
        default=None, description="With a time zone, in the future; null: until ended"
    )
    max_redemptions: RedemptionLimit | None = Field(
        default=None, description="How many checkouts may use it in all; null: no limit"
    )
    max_per_buyer: RedemptionLimit | None = Field(
        default=None,
        description="How many checkouts of one buyer may use it; null: no limit. Left out: 1 "
        "for a promotion with a code, no limit for an automatic one",
    )
    min_order_amount: MoneyIn | None = Field(
        default=None,
        description="The items it applies to must cost at least this (before any discount)",
    )
    category_ids: RestrictionIds = Field(
        default_factory=list,
        description="Only listings in these categories or their sub-categories; empty: any",
    )
    listing_ids: RestrictionIds = Field(
        default_factory=list, description="Only these listings; empty: any"
    )

    @model_validator(mode="after")
    def _terms(self) -> Self:
        check_terms(dict(self))
        return self


class AdminPromotionCreate(PromotionCreate):
    """A promotion the platform pays for (`funded_by: platform`), on any shop's listings
    unless restricted."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [_PROMOTION_EXAMPLE, _THRESHOLD_EXAMPLE]}
    )

    seller_ids: RestrictionIds = Field(
        default_factory=list, description="Only these shops' listings; empty: any shop"
    )


_UPDATE_EXAMPLE: JsonDict = {"name": "Summer sale (extended)", "ends_at": "2036-09-15T00:00:00Z"}


def _no_nulls(model: RequestSchema, nullable: frozenset[str]) -> None:
    nulls = [name for name in model.model_fields_set - nullable if getattr(model, name) is None]
    if nulls:
        raise ValueError(f"these fields cannot be null: {', '.join(sorted(nulls))}")


_NULLABLE_UPDATES = frozenset(
    {"max_discount", "code", "starts_at", "ends_at", "max_redemptions", "max_per_buyer"}
)


class PromotionUpdate(RequestSchema):
    """The fields to change; one left out stays as it is. The kind cannot change (end the
    promotion and make another). The promotion as it would be is checked as a whole, as on
    creation. Checkouts from now on see the change; orders keep what they were given."""

    model_config = ConfigDict(json_schema_extra={"examples": [_UPDATE_EXAMPLE]})

    name: PromotionName | SkipJsonSchema[None] = None
    percent: Percent | SkipJsonSchema[None] = None
    max_discount: MoneyAboveZero | None = Field(default=None, description="null: no cap")
    amount_off: MoneyAboveZero | SkipJsonSchema[None] = None
    tiers: (
        Annotated[list[TierIn], Field(min_length=1, max_length=MAX_TIERS)] | SkipJsonSchema[None]
    ) = None
    code: CouponCode | None = Field(default=None, description="null: automatic")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = Field(
        default=None, description="In the future; null: until ended"
    )
    max_redemptions: RedemptionLimit | None = Field(
        default=None, description="Not below the redemptions so far; null: no limit"
    )
    max_per_buyer: RedemptionLimit | None = Field(default=None, description="null: no limit")
    min_order_amount: MoneyIn | SkipJsonSchema[None] = None
    category_ids: RestrictionIds | SkipJsonSchema[None] = None
    listing_ids: RestrictionIds | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _nulls(self) -> Self:
        _no_nulls(self, _NULLABLE_UPDATES)
        return self


class AdminPromotionUpdate(PromotionUpdate):
    model_config = ConfigDict(json_schema_extra={"examples": [_UPDATE_EXAMPLE]})

    seller_ids: RestrictionIds | SkipJsonSchema[None] = None


class TierRead(Schema):
    min_subtotal: Money
    discount: Money


class PromotionRead(Schema):
    id: uuid.UUID
    name: str
    kind: PromotionKind
    percent: int | None
    max_discount: Money | None
    amount_off: Money | None
    tiers: list[TierRead] | None
    code: str | None = Field(description="Upper case; null: automatic")
    funded_by: FundedBy = Field(description="Who pays for the discount")
    seller_id: uuid.UUID | None = Field(description="The shop that pays (shop-funded only)")
    status: PromotionStatus = Field(description="Now, by its dates")
    starts_at: datetime | None
    ends_at: datetime | None
    max_redemptions: int | None
    max_per_buyer: int | None
    redemptions: int = Field(
        description="Checkouts that use it now (a cancelled order gives its use back)"
    )
    min_order_amount: Money
    seller_ids: list[uuid.UUID]
    category_ids: list[uuid.UUID]
    listing_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class DiscountRead(Schema):
    """One discount of a checkout or order: which promotion, how much, who pays."""

    promotion_id: uuid.UUID
    name: str
    code: str | None
    funded_by: FundedBy
    seller_id: uuid.UUID | None = Field(description="The shop that pays (shop-funded only)")
    amount: Money


class PromotionEnd(RequestSchema):
    """Why an admin ends the promotion (kept in the audit log); may be left out."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Stacks with a shop's own sale by mistake"}]}
    )

    reason: str | None = Field(default=None, min_length=1, max_length=2000)
