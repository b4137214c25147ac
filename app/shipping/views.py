"""Presenters: shipping profiles as their shop reads them, and shipping charges (a cart's or
an order's breakdown) as buyers and sellers see them."""

from typing import Any

from app.core.money import Money
from app.shipping.models import ShippingProfile
from app.shipping.quote import ProfileCharge
from app.shipping.schemas import ShippingChargeRead, ShippingProfileRead, ShippingRateRead


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def profile_read(profile: ShippingProfile) -> ShippingProfileRead:
    currency = profile.currency
    return ShippingProfileRead(
        id=profile.id,
        name=profile.name,
        currency=currency,
        rates=[
            ShippingRateRead(
                destinations=rate.destinations,
                first_item=_money(rate.first_item_amount, currency),
                additional_item=_money(rate.additional_item_amount, currency),
                free_over=(
                    None
                    if rate.free_over_amount is None
                    else _money(rate.free_over_amount, currency)
                ),
            )
            for rate in profile.rates
        ],
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def charge_read(charge: ProfileCharge | dict[str, Any], currency: str) -> ShippingChargeRead:
    """One charge of a breakdown: as quoted (a cart), or as an order keeps it
    (`ProfileCharge.as_json`)."""
    kept = charge.as_json() if isinstance(charge, ProfileCharge) else charge
    free_over = kept["free_over"]
    return ShippingChargeRead(
        profile_id=kept["profile_id"],
        profile_name=kept["profile_name"],
        destination=kept["destination"],
        listing_ids=kept["listing_ids"],
        units=kept["units"],
        items_total=_money(kept["items_amount"], currency),
        first_item=_money(kept["first_item"], currency),
        additional_item=_money(kept["additional_item"], currency),
        free_over=None if free_over is None else _money(free_over, currency),
        fee=_money(kept["amount"], currency),
    )
