import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.core.money import Money
from app.core.schemas import (
    WHOLE_NUMBER,
    ActionRead,
    DeprecatedSellerId,
    RequestSchema,
    Schema,
    ShopId,
)
from app.orders.models import CheckoutStatus, EventSubject, OrderStatus
from app.promotions.models import FundedBy
from app.promotions.schemas import CouponCode
from app.shipping.schemas import CountryCode, ShippingChargeRead

MAX_LINE_QUANTITY = 1000
MAX_COUPON_CODES = 5
LineQuantity = Annotated[int, Field(strict=True, ge=1, le=MAX_LINE_QUANTITY), WHOLE_NUMBER]


class ShippingAddress(RequestSchema):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    region: str | None = Field(default=None, max_length=100)
    country: CountryCode
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()./-]{6,32}$")


class ShippingAddressRead(Schema):
    """Where the order goes, as the buyer gave it at checkout."""

    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    region: str | None = None
    country: str = Field(description="ISO 3166-1 alpha-2")
    phone: str | None = None


class CartQuantity(RequestSchema):
    quantity: LineQuantity


class CartLine(Schema):
    listing_id: uuid.UUID
    title: str
    image_url: str | None = Field(
        description="The listing's first image, thumbnail size (null: none)"
    )
    unit_price: Money
    shipping_fee: Money = Field(
        description="This line's shipping to the group's `shipping_country`: its listing's "
        "flat fee, or its share (by units) of its shipping profile's combined fee"
    )
    quantity: int
    line_total: Money = Field(description="unit_price * quantity + shipping_fee")
    available: bool = Field(
        description="False when the listing can no longer be bought, is not shipped to "
        "the group's `shipping_country`, or the shop's lines come to more than one order "
        "may hold"
    )
    unavailable_reason: str | None
    in_stock: bool = Field(description="Whether the listing has any stock left")
    max_quantity: int = Field(
        description=(
            "The most this line may be set to now: the listing's stock (which its public page "
            f"shows), at most {MAX_LINE_QUANTITY}; 0 when sold out"
        )
    )


class CartSellerGroup(Schema):
    shop_id: ShopId
    seller_id: DeprecatedSellerId
    shop_name: str
    lines: list[CartLine]
    shipping_country: str = Field(
        description="ISO 3166-1 alpha-2 country the shipping is reckoned for: the cart's "
        "`country` parameter, else the shop's own country (a domestic estimate)"
    )
    shipping_breakdown: list[ShippingChargeRead] = Field(
        description="Available lines only: the combined shipping of the lines on each of the "
        "shop's shipping profiles (lines without a profile pay their flat `shipping_fee`)"
    )
    items_total: Money = Field(description="Available lines only: unit price * quantity")
    shipping_total: Money = Field(description="Available lines only: their shipping fees")
    discount_total: Money = Field(
        description="Available lines only: the coupons and automatic promotions checkout "
        "would apply to this shop's order"
    )
    protection_fee: Money = Field(
        description="The buyer protection fee checkout would charge on this shop's order"
    )
    subtotal: Money = Field(
        description="Available lines only: items_total + shipping_total - discount_total + "
        "protection_fee (what this shop's order will cost)"
    )


class CartRead(Schema):
    groups: list[CartSellerGroup]
    item_count: int = Field(description="Units in the lines that can be bought now")
    total: Money = Field(description="Every group's subtotal: what checking out costs now")


class CheckoutItem(RequestSchema):
    listing_id: uuid.UUID
    quantity: LineQuantity


class CheckoutCreate(RequestSchema):
    """Buys `items` if given, else everything available in the cart."""

    items: list[CheckoutItem] | None = Field(default=None, min_length=1, max_length=100)
    shipping_address: ShippingAddress
    coupon_codes: list[CouponCode] = Field(
        default_factory=list,
        max_length=MAX_COUPON_CODES,
        description="Coupon codes to apply (automatic promotions apply without one)",
    )


class PayRequest(RequestSchema):
    payment_token: str = Field(
        min_length=1,
        max_length=200,
        examples=["tok_success"],
        description=(
            "Sandbox: tok_success, tok_declined, tok_insufficient_funds, tok_provider_error"
        ),
    )


class CancelRequest(RequestSchema):
    reason: str = Field(min_length=1, max_length=2000)


class OrderLineRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    title: str
    image_url: str | None = Field(
        description="The listing's first image now, thumbnail size (null: none)"
    )
    unit_price: Money
    quantity: int
    shipping_fee: Money = Field(
        description="This line's shipping: its listing's flat fee, or its share (by units) of "
        "its shipping profile's combined fee"
    )
    line_total: Money = Field(description="unit_price * quantity + shipping_fee")
    discount: Money = Field(
        description="The line's share of the order's discounts (whoever funds them); a return "
        "of some of its units refunds their price less their share of this"
    )
    commission_percent: float | None = Field(
        description="Seller and admins only (null for the buyer, and for orders from before "
        "commission rules): the commission percent applied to this line"
    )
    commission_rule_id: uuid.UUID | None = Field(
        description="Seller and admins only: the commission rule that set the percent (null: "
        "the platform's default)"
    )


class OrderDiscountRead(Schema):
    """One discount on an order, as applied at checkout."""

    promotion_id: uuid.UUID
    name: str
    code: str | None = Field(description="The coupon code given (null: automatic promotion)")
    funded_by: FundedBy = Field(
        description="`platform`: the platform pays it (the shop is paid as if it were not "
        "there); `shop`: it comes off the shop's proceeds and the commission base"
    )
    amount: Money = Field(description="This order's share of it")


class OrderRead(Schema):
    id: uuid.UUID
    checkout_id: uuid.UUID
    buyer_id: uuid.UUID
    buyer_display_name: str
    shop_id: ShopId
    seller_id: DeprecatedSellerId
    shop_name: str
    status: OrderStatus
    lines: list[OrderLineRead]
    items_total: Money
    shipping_total: Money = Field(description="The lines' shipping fees")
    shipping_breakdown: list[ShippingChargeRead] = Field(
        description="How the shipping of the lines on shipping profiles was reckoned, one "
        "entry per profile; lines without a profile paid their listing's flat fee and appear "
        "in none (empty for orders from before shipping profiles)"
    )
    discounts: list[OrderDiscountRead] = Field(
        description="Each coupon or promotion that took money off this order"
    )
    discount_total: Money = Field(description="The sum of `discounts`")
    protection_fee: Money = Field(
        description="The buyer protection fee: the platform's, refunded only with a refund "
        "of everything paid for the goods"
    )
    total: Money = Field(
        description="What the buyer pays: items_total + shipping_total - discount_total + "
        "protection_fee"
    )
    commission: Money | None = Field(
        description=(
            "Seller and admins only (null for the buyer): the platform's commission on what "
            "the buyer paid for the goods and has not had back, by the terms the ledger "
            "applies at completion (see `lines[].commission_percent`)"
        )
    )
    net_amount: Money | None = Field(
        description="Seller and admins only (null for the buyer): what the shop gets: the "
        "goods not refunded, plus what the platform pays for its discounts on them, less "
        "the commission"
    )
    shipping_address: ShippingAddressRead
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None = Field(
        description="The carrier's tracking page for the first parcel (null: none known); "
        "every parcel: `GET /v1/orders/{id}/shipments`"
    )
    paid_at: datetime | None
    handling_days: int = Field(
        description="Business days the seller has to ship, from the order's lines (the "
        "longest of their handling times): `ship_by` is that long after payment, weekends "
        "skipped, public holidays not, at most `MARKETPLACE_SHIP_BY` after it"
    )
    ship_by: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None = Field(
        description="When the carrier reported the last parcel delivered"
    )
    auto_complete_at: datetime | None
    auto_refund_at: datetime | None = Field(
        description="A parcel lost or going back to the seller: unless a later scan or a "
        "dispute changes things, the buyer is refunded in full then"
    )
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    refunded: Money = Field(
        description="Given back to the buyer so far (a cancellation after payment, returns, "
        "disputes)"
    )
    review_deadline: datetime | None
    return_deadline: datetime | None
    dispute_deadline: datetime | None = Field(
        description="Null before completion: until then a dispute may be opened any time"
    )
    return_id: uuid.UUID | None = Field(description="The order's return, if one was requested")
    dispute_id: uuid.UUID | None = Field(description="The order's dispute, if one was opened")
    conversation_id: uuid.UUID | None = Field(
        description="Your conversation about this order, if there is one"
    )
    created_at: datetime
    allowed_actions: list[str] = Field(
        description="What the caller may do now: the order's own transitions, then "
        "`request_return`, `review` and `message` when they are open to the caller"
    )
    actions: list[ActionRead] = Field(
        description="`allowed_actions`, in the same order, each with the moment the chance "
        "ends: ship → ship_by, confirm_receipt → auto_complete_at, open_dispute → "
        "dispute_deadline, request_return → return_deadline, review → review_deadline; "
        "cancel and message have none"
    )


class CheckoutRead(Schema):
    id: uuid.UUID
    status: CheckoutStatus = Field(
        description="`expired`: not paid in time (its orders are `cancelled`); `cancelled`: "
        "the buyer cancelled every order"
    )
    orders: list[OrderRead]
    items_total: Money = Field(description="Every order's items together")
    shipping_total: Money = Field(description="Every order's shipping together")
    discounts: list[OrderDiscountRead] = Field(
        description="Each coupon or promotion over the whole checkout (its orders' shares "
        "added up), with who funds it"
    )
    discount_total: Money = Field(description="Every order's discounts together")
    protection_fee: Money = Field(description="Every order's buyer protection fee together")
    total: Money
    expires_at: datetime
    paid_at: datetime | None
    allowed_actions: list[str] = Field(
        description="`pay` while the checkout is unpaid and not expired"
    )
    actions: list[ActionRead] = Field(
        description="`allowed_actions` with their deadlines: pay → expires_at"
    )


class StatusCount(Schema):
    status: OrderStatus
    count: int


class OrderCounts(Schema):
    """How many of your orders are in each state: every state, in lifecycle order, zeros
    included (the tabs of an orders screen)."""

    counts: list[StatusCount]
    total: int


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
