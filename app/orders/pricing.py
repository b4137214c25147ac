"""What one shop's part of a purchase costs the buyer and what it sells for: its lines with
their shipping and discounts, the buyer protection fee, and the terms of the commission.
Pure arithmetic, the one place it is done: checkout prices orders with it."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.config import Settings
from app.fees import service as fees
from app.fees.commission import CommissionTerms


@dataclass(frozen=True, slots=True)
class LineCharge:
    listing_id: uuid.UUID
    units: int
    unit_price: int
    """Minor units."""
    shipping_fee: int
    """Minor units: the line's share of its shop's shipping."""
    discount: int = 0
    """Minor units off the line's items, whoever funds them."""
    shop_discount: int = 0
    """Minor units: the part of `discount` its shop funds."""

    @property
    def items(self) -> int:
        return self.unit_price * self.units

    @property
    def commission_base(self) -> int:
        """What the line sells for as the commission sees it: price and shipping, less what
        its shop gives away (a platform-funded discount is paid to the shop, so it is not
        taken off)."""
        return self.items + self.shipping_fee - self.shop_discount


@dataclass(frozen=True, slots=True)
class OrderCharge:
    lines: tuple[LineCharge, ...]
    items: int
    shipping: int
    shop_discount: int
    platform_discount: int
    protection_fee: int
    total: int
    """What the buyer pays: items + shipping - discounts + protection fee."""


def charge(settings: Settings, lines: Sequence[LineCharge]) -> OrderCharge:
    """The order the lines make (minor units throughout)."""
    items = sum(line.items for line in lines)
    shipping = sum(line.shipping_fee for line in lines)
    discount = sum(line.discount for line in lines)
    shop_discount = sum(line.shop_discount for line in lines)
    goods = items + shipping - discount
    fee = fees.protection_fee(settings, goods)
    return OrderCharge(
        lines=tuple(lines),
        items=items,
        shipping=shipping,
        shop_discount=shop_discount,
        platform_discount=discount - shop_discount,
        protection_fee=fee,
        total=goods + fee,
    )


def commission(
    settings: Settings,
    lines: Sequence[LineCharge],
    applied: Mapping[uuid.UUID, fees.AppliedCommission],
) -> CommissionTerms:
    """The terms of the order's commission: each line's base at the percent `applied` to
    its listing, and the platform's fixed fee."""
    return CommissionTerms.of_lines(
        [(line.commission_base, applied[line.listing_id].percent) for line in lines],
        settings.commission_fixed,
    )
