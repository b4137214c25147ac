import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from app.core.money import Money, MoneyAboveZero
from app.core.schemas import (
    WHOLE_NUMBER,
    ActionRead,
    DeprecatedSellerId,
    RequestSchema,
    Schema,
    ShopId,
    given_exactly_when,
)
from app.disputes.models import (
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    ReturnReason,
    ReturnStatus,
)
from app.logistics.schemas import ShipmentCorrection, ShipmentRead
from app.orders.schemas import OrderEventRead


class ReturnItemIn(RequestSchema):
    line_id: uuid.UUID = Field(description="An `id` from the order's `lines`")
    quantity: Annotated[int, Field(strict=True, ge=1, le=10_000), WHOLE_NUMBER]


class ReturnCreate(RequestSchema):
    reason: ReturnReason
    details: str | None = Field(default=None, max_length=2000)
    items: list[ReturnItemIn] = Field(min_length=1, max_length=100)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "damaged",
                    "details": "The screen arrived cracked.",
                    "items": [{"line_id": "0190f1c2-0000-7000-8000-000000000000", "quantity": 1}],
                }
            ]
        },
    )


class ReturnReject(RequestSchema):
    reason: str = Field(min_length=1, max_length=2000)


class ReturnShipBack(ShipmentCorrection):
    """The carrier and tracking number of the parcel going back to the seller, checked as
    the seller's are (`GET /v1/carriers`)."""


class ReturnItemRead(Schema):
    line_id: uuid.UUID
    listing_id: uuid.UUID
    title: str = Field(description="The listing's title when it was bought")
    quantity: int


Actions = Annotated[
    list[ActionRead],
    Field(
        description="`allowed_actions` (same names, same order), each with the moment the "
        "chance ends (null: no deadline)"
    ),
]
ShopName = Annotated[str, Field(description="The selling shop's name")]
BuyerName = Annotated[
    str, Field(description='The buyer\'s display name ("Deleted user" once erased)')
]


class ReturnSummary(Schema):
    """A row of a list of returns: what the row shows and what the caller may do."""

    id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    buyer_display_name: BuyerName
    shop_id: ShopId
    seller_id: DeprecatedSellerId
    shop_name: ShopName
    status: ReturnStatus
    reason: ReturnReason
    refund: Money = Field(description="Refunded when the seller receives the goods")
    respond_by: datetime | None = Field(description="The seller's deadline; silence approves")
    created_at: datetime
    allowed_actions: list[str] = Field(description="What the caller may do now")
    actions: Actions


class ReturnRead(ReturnSummary):
    """A return with everything its screen shows: the items, the parcel back, the timeline."""

    details: str | None
    items: list[ReturnItemRead]
    refund: Money = Field(
        description="Refunded when the seller receives the goods: the items, plus their "
        "shipping when the seller is at fault"
    )
    rejection_reason: str | None
    carrier: str | None
    tracking_number: str | None
    parcel: ShipmentRead | None = Field(
        description="The parcel going back, with its carrier's scans (null: not sent yet). "
        "Once the carrier delivers it, the seller has `MARKETPLACE_RETURN_INSPECTION_TIME` to "
        "confirm receipt before the return counts as received (and refunds) on its own."
    )
    received_at: datetime | None
    timeline: list[OrderEventRead]


BUYER_OUTCOMES = (DisputeOutcome.refund_buyer, DisputeOutcome.partial_refund)


class DisputeCreate(RequestSchema):
    reason: DisputeReason
    description: str = Field(min_length=1, max_length=5000)
    # A buyer may not ask for `release_to_seller`: the spec lists what they may ask for (the
    # validator below refuses the rest with a message naming them).
    requested_outcome: Annotated[
        DisputeOutcome,
        WithJsonSchema({"type": "string", "enum": [o.value for o in BUYER_OUTCOMES]}),
    ] = Field(
        description="`refund_buyer` (everything back) or `partial_refund` (with "
        "`requested_amount`); granted as asked if the seller does not answer in time"
    )
    requested_amount: MoneyAboveZero | None = Field(
        default=None, description="With partial_refund only"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "not_received",
                    "description": "Tracking has not moved for ten days.",
                    "requested_outcome": "refund_buyer",
                }
            ],
            **given_exactly_when(
                "requested_amount", when="requested_outcome", equals="partial_refund"
            ),
        },
    )

    @model_validator(mode="after")
    def _amount_matches_outcome(self) -> Self:
        if self.requested_outcome not in BUYER_OUTCOMES:
            raise ValueError("a buyer asks for refund_buyer or partial_refund")
        partial = self.requested_outcome is DisputeOutcome.partial_refund
        if partial != (self.requested_amount is not None):
            raise ValueError("requested_amount goes with partial_refund, and only with it")
        return self


class DisputeMessageCreate(RequestSchema):
    body: str = Field(min_length=1, max_length=5000)
    evidence_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=10,
        description="Files uploaded to this dispute's `evidence` first",
    )


class DisputeResolve(RequestSchema):
    outcome: DisputeOutcome
    refund_amount: MoneyAboveZero | None = Field(
        default=None, description="With partial_refund only"
    )
    note: str | None = Field(default=None, max_length=5000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "partial_refund",
                    "refund_amount": {"amount": 1500, "currency": "USD"},
                    "note": "Item works but was not as described.",
                }
            ],
            **given_exactly_when("refund_amount", when="outcome", equals="partial_refund"),
        },
    )

    @model_validator(mode="after")
    def _amount_matches_outcome(self) -> Self:
        partial = self.outcome is DisputeOutcome.partial_refund
        if partial != (self.refund_amount is not None):
            raise ValueError("refund_amount goes with partial_refund, and only with it")
        return self


class EvidenceRead(Schema):
    id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    uploader_id: uuid.UUID
    uploader_role: str = Field(description="`buyer`, `seller` or `admin`")
    url: str = Field(description="Download (parties and admins only)")
    created_at: datetime


class DisputeMessageRead(Schema):
    id: uuid.UUID
    author_id: uuid.UUID
    author_role: str
    body: str
    evidence: list[EvidenceRead]
    created_at: datetime


class DisputeSummary(Schema):
    """A row of a list of disputes (the parties' lists and the admin queue)."""

    id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    buyer_display_name: BuyerName
    shop_id: ShopId
    seller_id: DeprecatedSellerId
    shop_name: ShopName
    status: DisputeStatus
    reason: DisputeReason
    requested_outcome: DisputeOutcome
    requested_amount: Money | None
    outcome: DisputeOutcome | None
    refund: Money | None
    order_total: Money
    respond_by: datetime | None = Field(
        description="While the seller owes an answer: past it the buyer wins by default"
    )
    created_at: datetime
    resolved_at: datetime | None
    age_seconds: int = Field(description="Time since it was opened")
    allowed_actions: list[str] = Field(description="What the caller may do now")
    actions: Actions


class DisputeRead(DisputeSummary):
    """A dispute with everything its screen shows: the claim, the thread, the evidence and
    the timeline."""

    description: str
    resolution_note: str | None
    allowed_actions: list[str] = Field(
        description="What the caller may do now; `message` and `add_evidence` stay open to "
        "the parties and admins until the dispute is resolved"
    )
    messages: list[DisputeMessageRead]
    evidence: list[EvidenceRead] = Field(
        description="Every file uploaded to the dispute, oldest first, whether or not a "
        "message cites it"
    )
    timeline: list[OrderEventRead]
