"""Presenters: promotions as their makers read them, and discounts as a checkout or an order
shows them."""

import uuid

from app.core.clock import now
from app.core.money import Money
from app.promotions.models import Promotion
from app.promotions.pricing import AppliedDiscount
from app.promotions.schemas import DiscountRead, PromotionRead, PromotionStatus, TierRead
from app.promotions.service import has_ended, has_started


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount=amount, currency=currency)


def status_of(promotion: Promotion) -> PromotionStatus:
    moment = now()
    if has_ended(promotion, moment):
        return PromotionStatus.ended
    if not has_started(promotion, moment):
        return PromotionStatus.scheduled
    return PromotionStatus.active


def promotion_read(promotion: Promotion) -> PromotionRead:
    currency = promotion.currency
    return PromotionRead(
        id=promotion.id,
        name=promotion.name,
        kind=promotion.kind,
        percent=promotion.percent,
        max_discount=_money(promotion.max_discount_amount, currency),
        amount_off=_money(promotion.fixed_amount, currency),
        tiers=None
        if promotion.tiers is None
        else [
            TierRead(
                min_subtotal=Money(amount=tier["min_subtotal"], currency=currency),
                discount=Money(amount=tier["discount"], currency=currency),
            )
            for tier in promotion.tiers
        ],
        code=promotion.code,
        funded_by=promotion.funded_by,
        seller_id=promotion.seller_id,
        status=status_of(promotion),
        starts_at=promotion.starts_at,
        ends_at=promotion.ends_at,
        max_redemptions=promotion.max_redemptions,
        max_per_buyer=promotion.max_per_buyer,
        redemptions=promotion.redemptions,
        min_order_amount=Money(amount=promotion.min_order_amount, currency=currency),
        seller_ids=[uuid.UUID(i) for i in promotion.seller_ids],
        category_ids=[uuid.UUID(i) for i in promotion.category_ids],
        listing_ids=[uuid.UUID(i) for i in promotion.listing_ids],
        created_at=promotion.created_at,
        updated_at=promotion.updated_at,
    )


def discount_read(discount: AppliedDiscount, currency: str) -> DiscountRead:
    """One discount of a checkout's or order's breakdown (for an order, give it the order's
    share: `amount` = the sum of `per_line` over the order's lines)."""
    return DiscountRead(
        promotion_id=discount.promotion_id,
        name=discount.name,
        code=discount.code,
        funded_by=discount.funded_by,
        seller_id=discount.seller_id,
        amount=Money(amount=discount.amount, currency=currency),
    )
