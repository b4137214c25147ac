"""Presenters: carts, checkouts, orders and their timelines as the API shows them, with
`allowed_actions` (and `actions`, each with its deadline) for the caller."""

import uuid
from collections.abc import Sequence
from typing import Any

from app.catalog.views import thumbnail_url
from app.core.money import Money
from app.core.schemas import ActionRead
from app.core.storage import MediaStorage
from app.orders.checkout import CartView, CheckoutView
from app.orders.models import Order, OrderEvent, OrderStatus
from app.orders.schemas import (
    MAX_LINE_QUANTITY,
    CartLine,
    CartRead,
    CartSellerGroup,
    CheckoutRead,
    OrderCounts,
    OrderDiscountRead,
    OrderEventRead,
    OrderLineRead,
    OrderRead,
    ShippingAddressRead,
    StatusCount,
)
from app.orders.service import OrderView
from app.shipping.carriers import tracking_url
from app.shipping.views import charge_read


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def _image_url(storage: MediaStorage, key: str | None) -> str | None:
    return storage.url(key) if key is not None else None


def _discount_read(kept: dict[str, Any], currency: str) -> OrderDiscountRead:
    return OrderDiscountRead.model_validate({**kept, "amount": _money(kept["amount"], currency)})


def _discounts_over(orders: Sequence[Order], currency: str) -> list[OrderDiscountRead]:
    """The orders' discounts, each promotion's shares added up, in the order first seen."""
    merged: dict[str, dict[str, Any]] = {}
    for order in orders:
        for kept in order.discounts:
            seen = merged.setdefault(kept["promotion_id"], {**kept, "amount": 0})
            seen["amount"] += kept["amount"]
    return [_discount_read(kept, currency) for kept in merged.values()]


def _discount(order: Order) -> int:
    return order.shop_discount_amount + order.platform_discount_amount


def to_read(shown: OrderView, storage: MediaStorage) -> OrderRead:
    order, facts = shown.order, shown.facts
    currency = order.currency
    commission = shown.commission
    return OrderRead(
        id=order.id,
        checkout_id=order.checkout_id,
        buyer_id=order.buyer_id,
        buyer_display_name=order.buyer.display_name,
        shop_id=order.seller_id,
        seller_id=order.seller_id,
        shop_name=order.shop.shop_name,
        status=order.status,
        lines=[
            OrderLineRead(
                id=line.id,
                listing_id=line.listing_id,
                title=line.title,
                image_url=_image_url(storage, line.thumbnail_key),
                unit_price=_money(line.unit_price, currency),
                quantity=line.quantity,
                shipping_fee=_money(line.shipping_fee, currency),
                line_total=_money(line.unit_price * line.quantity + line.shipping_fee, currency),
                discount=_money(line.discount_amount, currency),
                commission_percent=None
                if commission is None or line.commission_percent is None
                else float(line.commission_percent),
                commission_rule_id=None if commission is None else line.commission_rule_id,
            )
            for line in order.lines
        ],
        items_total=_money(order.items_amount, currency),
        shipping_total=_money(order.shipping_amount, currency),
        shipping_breakdown=[charge_read(charge, currency) for charge in order.shipping_breakdown],
        discounts=[_discount_read(d, currency) for d in order.discounts],
        discount_total=_money(_discount(order), currency),
        protection_fee=_money(order.protection_fee_amount, currency),
        total=_money(order.total_amount, currency),
        commission=None if commission is None else _money(commission, currency),
        net_amount=None if shown.net is None else _money(shown.net, currency),
        shipping_address=ShippingAddressRead.model_validate(order.shipping_address),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        tracking_url=tracking_url(order.carrier, order.tracking_number)
        if order.carrier and order.tracking_number
        else None,
        paid_at=order.paid_at,
        handling_days=order.handling_days,
        ship_by=order.ship_by,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        auto_complete_at=order.auto_complete_at,
        auto_refund_at=order.auto_refund_at,
        completed_at=order.completed_at,
        cancelled_at=order.cancelled_at,
        cancel_reason=order.cancel_reason,
        refunded=_money(order.refunded_amount, currency),
        review_deadline=order.review_deadline,
        return_deadline=order.return_deadline,
        dispute_deadline=order.dispute_deadline,
        return_id=facts.return_id,
        dispute_id=facts.dispute_id,
        conversation_id=facts.conversation_id,
        created_at=order.created_at,
        allowed_actions=[a.name for a in shown.actions],
        actions=[ActionRead(name=a.name, deadline=a.deadline) for a in shown.actions],
    )


def events_to_read(events: Sequence[OrderEvent]) -> list[OrderEventRead]:
    return [OrderEventRead.model_validate(e) for e in events]


def checkout_to_read(shown: CheckoutView, storage: MediaStorage) -> CheckoutRead:
    checkout = shown.checkout
    return CheckoutRead(
        id=checkout.id,
        status=checkout.status,
        orders=[to_read(o, storage) for o in shown.orders],
        items_total=_money(sum(o.order.items_amount for o in shown.orders), checkout.currency),
        shipping_total=_money(
            sum(o.order.shipping_amount for o in shown.orders), checkout.currency
        ),
        discounts=_discounts_over([o.order for o in shown.orders], checkout.currency),
        discount_total=_money(
            sum(
                o.order.shop_discount_amount + o.order.platform_discount_amount
                for o in shown.orders
            ),
            checkout.currency,
        ),
        protection_fee=_money(
            sum(o.order.protection_fee_amount for o in shown.orders), checkout.currency
        ),
        total=_money(checkout.total_amount, checkout.currency),
        expires_at=checkout.expires_at,
        paid_at=checkout.paid_at,
        allowed_actions=[a.name for a in shown.actions],
        actions=[ActionRead(name=a.name, deadline=a.deadline) for a in shown.actions],
    )


def counts_to_read(counts: dict[OrderStatus, int]) -> OrderCounts:
    return OrderCounts(
        counts=[StatusCount(status=s, count=n) for s, n in counts.items()],
        total=sum(counts.values()),
    )


def cart_to_read(shown: CartView, currency: str, storage: MediaStorage) -> CartRead:
    """The cart grouped by seller; totals count only the lines that can be bought now."""
    groups: dict[uuid.UUID, CartSellerGroup] = {}
    units = 0
    for entry in shown.entries:
        listing = entry.listing
        shipping = shown.shipping[listing.seller_id]
        group = groups.setdefault(
            listing.seller_id,
            CartSellerGroup(
                shop_id=listing.seller_id,
                seller_id=listing.seller_id,
                shop_name=listing.seller.shop_name,
                lines=[],
                shipping_country=shipping.country,
                shipping_breakdown=[charge_read(c, currency) for c in shipping.charges],
                items_total=_money(shipping.price.items, currency),
                shipping_total=_money(shipping.price.shipping, currency),
                discount_total=_money(
                    shipping.price.shop_discount + shipping.price.platform_discount, currency
                ),
                protection_fee=_money(shipping.price.protection_fee, currency),
                subtotal=_money(shipping.price.total, currency),
            ),
        )
        items = listing.price_amount * entry.quantity
        line_total = items + entry.shipping_fee
        group.lines.append(
            CartLine(
                listing_id=listing.id,
                title=listing.title,
                image_url=thumbnail_url(listing, storage),
                unit_price=_money(listing.price_amount, listing.currency),
                shipping_fee=_money(entry.shipping_fee, listing.currency),
                quantity=entry.quantity,
                line_total=_money(line_total, listing.currency),
                available=entry.unavailable_reason is None,
                unavailable_reason=entry.unavailable_reason,
                in_stock=listing.quantity > 0,
                max_quantity=max(0, min(listing.quantity, MAX_LINE_QUANTITY)),
            )
        )
        if entry.unavailable_reason is None:
            units += entry.quantity
    total = sum(group.subtotal.amount for group in groups.values())
    return CartRead(groups=list(groups.values()), item_count=units, total=_money(total, currency))
