import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue
from pydantic.json_schema import SkipJsonSchema

from app.core.money import Money, MoneyAboveZero
from app.core.schemas import WHOLE_NUMBER, RequestSchema, Schema
from app.offers.models import OfferParty, OfferStatus
from app.orders.schemas import MAX_LINE_QUANTITY, ShippingAddress

OfferQuantity = Annotated[
    int,
    Field(strict=True, ge=1, le=MAX_LINE_QUANTITY, description="Units the price is for"),
    WHOLE_NUMBER,
]
_ADDRESS_EXAMPLE: dict[str, JsonValue] = {
    "name": "Grace Hopper",
    "line1": "1 Harbour Street",
    "city": "Hamburg",
    "postal_code": "20095",
    "country": "DE",
}


class OfferCreate(RequestSchema):
    """A price per unit below the listing's, for `quantity` units (at most its stock)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": {"amount": 1500, "currency": "USD"}}]}
    )

    amount: MoneyAboveZero = Field(description="The unit price you offer; below the listing's")
    quantity: OfferQuantity = 1


class OfferCounter(RequestSchema):
    """Another unit price (below the listing's); the quantity stays unless given."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": {"amount": 1750, "currency": "USD"}}]}
    )

    amount: MoneyAboveZero = Field(description="The unit price you propose instead")
    quantity: OfferQuantity | SkipJsonSchema[None] = None


class OfferCheckout(RequestSchema):
    """Where the agreed purchase ships."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"shipping_address": _ADDRESS_EXAMPLE}]}
    )

    shipping_address: ShippingAddress


class OfferRoundRead(Schema):
    by: OfferParty = Field(description="Who proposed it: the buyer (offer, counter) or the shop")
    amount: Money = Field(description="Unit price proposed")
    quantity: int
    created_at: datetime


class OfferRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    seller_id: uuid.UUID = Field(description="The shop's id")
    buyer_id: uuid.UUID
    your_role: OfferParty = Field(description="Whether you are its buyer or its seller")
    status: OfferStatus = Field(
        description="`pending_seller` (the shop answers), `pending_buyer` (the buyer answers "
        "a counter-offer), `accepted` (stock held until `pay_by`: check out at the agreed "
        "price), `purchased`, `declined`, `withdrawn`, `expired`"
    )
    amount: Money = Field(description="The unit price on the table (agreed, once accepted)")
    quantity: int
    total: Money = Field(description="`amount` times `quantity`, before shipping")
    proposed_by: OfferParty = Field(description="Who made the proposal on the table")
    expires_at: datetime = Field(
        description="Unanswered by then (or, accepted, not checked out by then), it expires"
    )
    accepted_at: datetime | None
    pay_by: datetime | None = Field(description="An accepted offer's stock is held until then")
    checkout_id: uuid.UUID | None = Field(description="The checkout that bought it")
    conversation_id: uuid.UUID | None = Field(
        description="Your conversation about the listing, where its steps are shown"
    )
    rounds: list[OfferRoundRead] = Field(description="Every proposal, oldest first")
    allowed_actions: list[str] = Field(
        description="What you may do now: `accept`, `decline`, `counter`, `withdraw`, `checkout`"
    )
    created_at: datetime
    updated_at: datetime
