"""Presenters: carts, checkouts, orders and their timelines as the API shows them, with
`allowed_actions` derived from the caller's roles."""

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from app.core.guards import Guarded
from app.core.money import Money
from app.orders.checkout import CartEntry
from app.orders.models import Checkout, Order, OrderEvent
from app.orders.schemas import (
    CartLine,
    CartRead,
    CartSellerGroup,
    CheckoutRead,
    OrderEventRead,
    OrderLineRead,
    OrderRead,
)
from app.orders.state import ORDER_LIFECYCLE, OrderActor


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def to_read(order: Order, roles: AbstractSet[OrderActor]) -> OrderRead:
    return OrderRead(
        id=order.id,
        checkout_id=order.checkout_id,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        status=order.status,
        lines=[
            OrderLineRead(
                id=line.id,
                listing_id=line.listing_id,
                title=line.title,
                unit_price=_money(line.unit_price, order.currency),
                quantity=line.quantity,
                shipping_fee=_money(line.shipping_fee, order.currency),
            )
            for line in order.lines
        ],
        items_total=_money(order.items_amount, order.currency),
        shipping_total=_money(order.shipping_amount, order.currency),
        total=_money(order.total_amount, order.currency),
        shipping_address=order.shipping_address,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        paid_at=order.paid_at,
        ship_by=order.ship_by,
        shipped_at=order.shipped_at,
        auto_complete_at=order.auto_complete_at,
        completed_at=order.completed_at,
        cancelled_at=order.cancelled_at,
        cancel_reason=order.cancel_reason,
        refunded=_money(order.refunded_amount, order.currency),
        review_deadline=order.review_deadline,
        return_deadline=order.return_deadline,
        dispute_deadline=order.dispute_deadline,
        created_at=order.created_at,
        allowed_actions=[
            a.value for a in ORDER_LIFECYCLE.allowed_actions(order.status, roles, order)
        ],
    )


def guarded_read(order: Guarded[Order, OrderActor]) -> OrderRead:
    """An order of a list, for the caller's roles on it."""
    return to_read(order.subject, order.roles)


def events_to_read(events: Sequence[OrderEvent]) -> list[OrderEventRead]:
    return [OrderEventRead.model_validate(e) for e in events]


def checkout_to_read(checkout: Checkout, roles: AbstractSet[OrderActor]) -> CheckoutRead:
    return CheckoutRead(
        id=checkout.id,
        status=checkout.status,
        orders=[to_read(o, roles) for o in checkout.orders],
        total=_money(checkout.total_amount, checkout.currency),
        expires_at=checkout.expires_at,
        paid_at=checkout.paid_at,
    )


def cart_to_read(entries: Sequence[CartEntry], currency: str) -> CartRead:
    """The cart grouped by seller; totals count only the lines that can be bought now."""
    groups: dict[uuid.UUID, CartSellerGroup] = {}
    total = 0
    for entry in entries:
        listing = entry.listing
        group = groups.setdefault(
            listing.seller_id,
            CartSellerGroup(
                seller_id=listing.seller_id,
                shop_name=listing.seller.shop_name,
                lines=[],
                subtotal=_money(0, currency),
            ),
        )
        group.lines.append(
            CartLine(
                listing_id=listing.id,
                title=listing.title,
                unit_price=_money(listing.price_amount, listing.currency),
                shipping_fee=_money(listing.shipping_fee_amount, listing.currency),
                quantity=entry.quantity,
                available=entry.unavailable_reason is None,
                unavailable_reason=entry.unavailable_reason,
                in_stock=listing.quantity,
            )
        )
        if entry.unavailable_reason is None:
            line_total = listing.price_amount * entry.quantity + listing.shipping_fee_amount
            group.subtotal = _money(group.subtotal.amount + line_total, currency)
            total += line_total
    return CartRead(groups=list(groups.values()), total=_money(total, currency))
