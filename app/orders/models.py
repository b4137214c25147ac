import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app.auth.models import User
from app.catalog.models import ListingImage
from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column
from app.sellers.models import SellerProfile


class CartItem(IdMixin, TimestampMixin, Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("buyer_id", "listing_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    quantity: Mapped[int]


class CheckoutStatus(StrEnum):
    pending_payment = "pending_payment"
    paid = "paid"
    cancelled = "cancelled"
    """The buyer cancelled every order before paying."""
    expired = "expired"
    """Not paid before `expires_at`: the worker gave the stock back."""


class Checkout(IdMixin, TimestampMixin, Base):
    """One purchase across sellers: paid once, split into one order per seller."""

    __tablename__ = "checkouts"
    __table_args__ = (Index("ix_checkouts_status_expires_at", "status", "expires_at"),)

    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[CheckoutStatus] = mapped_column(enum_column(CheckoutStatus, "checkout_status"))
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    """Sum of its orders' totals, minor units."""
    expires_at: Mapped[datetime]
    """Unpaid past this, the worker cancels it and the stock returns."""
    paid_at: Mapped[datetime | None]

    orders: Mapped[list["Order"]] = relationship(lazy="raise", order_by="Order.id")


class OrderStatus(StrEnum):
    pending_payment = "pending_payment"
    paid = "paid"
    shipped = "shipped"
    completed = "completed"
    cancelled = "cancelled"
    disputed = "disputed"
    refunded = "refunded"
    partially_refunded = "partially_refunded"


class Order(IdMixin, TimestampMixin, Base):
    """What one buyer bought from one seller, with a snapshot of the goods and the address."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_buyer", "buyer_id", "id"),
        Index("ix_orders_seller", "seller_id", "id"),
        Index("ix_orders_status_auto_complete_at", "status", "auto_complete_at"),
        Index("ix_orders_funds_release_at", "funds_release_at"),
        Index("ix_orders_auto_refund_at", "auto_refund_at"),
    )

    checkout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkouts.id"), index=True)
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"))
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus, "order_status"))
    currency: Mapped[str] = mapped_column(String(3))
    items_amount: Mapped[int] = mapped_column(BigInteger)
    """Sum of unit price times quantity, minor units."""
    shipping_amount: Mapped[int] = mapped_column(BigInteger)
    """Sum of the lines' shipping fees, minor units."""
    shipping_breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """How the shipping of lines on shipping profiles was reckoned, one entry per profile
    (app.shipping.quote.ProfileCharge.as_json), as charged at checkout; lines without a
    profile paid their listing's flat fee and appear in none. Empty for orders before
    profiles existed."""
    shop_discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """Discounts the shop funds (its promotions and coupons), minor units: they reduce its
    proceeds and the commission base."""
    platform_discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """Discounts the platform funds, minor units: the platform pays them into escrow at
    payment, so the shop is paid as if they were not there."""
    discounts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Each discount on the order, as applied at checkout: promotion id, name, code (null:
    automatic), funded_by (platform | shop), amount (minor units, this order's share)."""
    protection_fee_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """The buyer protection fee, minor units: platform revenue at completion, refunded only
    with everything else."""
    total_amount: Mapped[int] = mapped_column(BigInteger)
    """items + shipping - discounts + protection fee: what the buyer pays for this order,
    minor units."""
    commission_base: Mapped[int | None] = mapped_column(BigInteger)
    """What the lines sold for (price and shipping less shop-funded discounts), minor units,
    as checkout reckoned the commission (null: an order from before commission rules, charged
    the default settings)."""
    commission_weight: Mapped[int | None] = mapped_column(BigInteger)
    """Sum over the lines of base times percent in hundredths (see app.fees.commission)."""
    commission_fixed: Mapped[int | None] = mapped_column(BigInteger)
    """The fixed part of the commission, minor units, once per order."""
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON)
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None]
    handling_days: Mapped[int]
    """The longest handling time of the order's lines when it was checked out, business
    days: `ship_by` is that long after payment (capped by the `ship_by` setting)."""
    ship_by: Mapped[datetime | None]
    """Unshipped past this, the buyer may cancel for a full refund."""
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    """When the carrier reported the last of its parcels delivered (null: not yet, or the
    carrier reports nothing)."""
    auto_complete_at: Mapped[datetime | None]
    """Shipped and not confirmed by then, the worker completes it: counted from delivery, or
    from shipping (a longer fallback) while no delivery is known; null while a parcel is
    lost or going back to the seller."""
    auto_refund_at: Mapped[datetime | None]
    """A parcel lost or going back to the seller: unless a later scan or a dispute changes
    things, the worker refunds the buyer in full then."""
    completion_reminder_sent_at: Mapped[datetime | None]
    """When the buyer was told the order is about to complete on its own."""
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    funds_release_at: Mapped[datetime | None]
    """When the seller's proceeds leave the payout hold (null: not completed, or released)."""
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """Given back to the buyer so far (returns, disputes), minor units; at most the total."""
    review_deadline: Mapped[datetime | None]
    return_deadline: Mapped[datetime | None]
    dispute_deadline: Mapped[datetime | None]
    """The windows after completion, fixed when the order completes (null before; a dispute
    may be opened any time from payment until completion)."""

    lines: Mapped[list["OrderLine"]] = relationship(
        lazy="raise", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    # The parties' names, for the screens: loaded with the order where it is shown.
    buyer: Mapped[User] = relationship(lazy="raise", viewonly=True)
    shop: Mapped[SellerProfile] = relationship(lazy="raise", viewonly=True)


class OrderLine(IdMixin, Base):
    """A snapshot of one listing as bought: later edits of the listing do not change it."""

    __tablename__ = "order_lines"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id"))
    title: Mapped[str] = mapped_column(String(140))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    """Minor units."""
    quantity: Mapped[int]
    shipping_fee: Mapped[int] = mapped_column(BigInteger)
    """Minor units, for this line."""
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """The line's share of the order's discounts (both funders), minor units: a return of
    some of its units refunds their share of the price less their share of this."""
    shop_discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """The part of `discount_amount` the shop funds, minor units."""
    commission_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    """The commission percent checkout applied to the line (null: before commission rules)."""
    commission_rule_id: Mapped[uuid.UUID | None]
    """The commission rule that set the percent (null: the platform's default). No foreign
    key: a rule deleted later leaves the record of what applied."""
    thumbnail_key: Mapped[str | None] = column_property(
        # The listing's first image in its thumbnail size (uploads older than the sizes have
        # only the original).
        select(func.coalesce(ListingImage.thumbnail_key, ListingImage.storage_key))
        .where(ListingImage.listing_id == listing_id)
        .order_by(ListingImage.position, ListingImage.id)
        .limit(1)
        .correlate_except(ListingImage)
        .scalar_subquery()
    )
    """The storage key of the listing's first image as it is now (null: none), read with the
    line in the same statement."""


class EventSubject(StrEnum):
    order = "order"
    return_request = "return"
    dispute = "dispute"
    review = "review"
    shipment = "shipment"


class OrderEvent(IdMixin, Base):
    """One step of an order's timeline: who did what, from which state to which. Steps of
    the order's returns, disputes and reviews are events of the order too, naming their
    subject, whose states `from_status` and `to_status` then are."""

    __tablename__ = "order_events"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    subject: Mapped[EventSubject] = mapped_column(
        enum_column(EventSubject, "event_subject"), default=EventSubject.order
    )
    subject_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    """The return, dispute or review the step belongs to (null for the order itself)."""
    actor_id: Mapped[uuid.UUID | None]
    """The user who acted; null for the system (worker, payment)."""
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=now)
