import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.core.money import Money
from app.core.schemas import WHOLE_NUMBER, RequestSchema, Schema
from app.orders.models import CheckoutStatus, EventSubject, OrderStatus

MAX_LINE_QUANTITY = 1000
LineQuantity = Annotated[int, Field(strict=True, ge=1, le=MAX_LINE_QUANTITY), WHOLE_NUMBER]


class ShippingAddress(RequestSchema):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    region: str | None = Field(default=None, max_length=100)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()./-]{6,32}$")


class CartQuantity(RequestSchema):
    quantity: LineQuantity


class CartLine(Schema):
    listing_id: uuid.UUID
    title: str
    unit_price: Money
    shipping_fee: Money
    quantity: int
    available: bool = Field(description="False when the listing can no longer be bought")
    unavailable_reason: str | None
    in_stock: int


class CartSellerGroup(Schema):
    seller_id: uuid.UUID
    shop_name: str
    lines: list[CartLine]
    subtotal: Money = Field(description="Available lines only: items plus shipping")


class CartRead(Schema):
    groups: list[CartSellerGroup]
    total: Money


class CheckoutItem(RequestSchema):
    listing_id: uuid.UUID
    quantity: LineQuantity


class CheckoutCreate(RequestSchema):
    """Buys `items` if given, else everything available in the cart."""

    items: list[CheckoutItem] | None = Field(default=None, min_length=1, max_length=100)
    shipping_address: ShippingAddress


class PayRequest(RequestSchema):
    payment_token: str = Field(
        min_length=1,
        max_length=200,
        examples=["tok_success"],
        description=(
            "Sandbox: tok_success, tok_declined, tok_insufficient_funds, tok_provider_error"
        ),
    )


class ShipRequest(RequestSchema):
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")


class CancelRequest(RequestSchema):
    reason: str = Field(min_length=1, max_length=2000)


class OrderLineRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    title: str
    unit_price: Money
    quantity: int
    shipping_fee: Money


class OrderRead(Schema):
    id: uuid.UUID
    checkout_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    status: OrderStatus
    lines: list[OrderLineRead]
    items_total: Money
    shipping_total: Money
    total: Money
    shipping_address: dict[str, str | None]
    carrier: str | None
    tracking_number: str | None
    paid_at: datetime | None
    ship_by: datetime | None
    shipped_at: datetime | None
    auto_complete_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    refunded: Money = Field(description="Given back to the buyer so far (returns, disputes)")
    review_deadline: datetime | None
    return_deadline: datetime | None
    dispute_deadline: datetime | None = Field(
        description="Null before completion: until then a dispute may be opened any time"
    )
    created_at: datetime
    allowed_actions: list[str] = Field(description="What the caller may do now")


class CheckoutRead(Schema):
    id: uuid.UUID
    status: CheckoutStatus
    orders: list[OrderRead]
    total: Money
    expires_at: datetime
    paid_at: datetime | None


class OrderEventRead(Schema):
    id: uuid.UUID
    subject: EventSubject = Field(
        description="What changed: the order, or one of its returns, disputes or reviews"
    )
    subject_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    actor_role: str
    action: str
    from_status: str | None
    to_status: str
    details: dict[str, object]
    created_at: datetime
