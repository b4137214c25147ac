"""Combined shipping: what one shop's lines cost to ship to one country, and each line's share.

Pure: it reads plain terms (`Profile`, `QuoteLine`), never the database, so the cart (which
shows the amounts) and the checkout (which charges them) cannot disagree.

Lines on the same profile travel together: their profile's rate for the country charges its
first item once and every further unit its additional fee, or nothing when those lines' items
cost at least the rate's free-over amount. That fee is split over the lines in proportion to
their units, the remainder a minor unit each to the earliest lines, so that the lines' fees
always add up to it exactly (refunds and reports work per line). A line without a profile
keeps its listing's flat fee, once per line whatever its quantity, as before profiles.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.money import MAX_AMOUNT
from app.shipping.exceptions import DestinationNotServed
from app.shipping.regions import EVERYWHERE, REGIONS


@dataclass(frozen=True, slots=True)
class Rate:
    destinations: tuple[str, ...]
    first_item: int
    additional_item: int
    free_over: int | None


@dataclass(frozen=True, slots=True)
class Profile:
    id: uuid.UUID
    name: str
    rates: tuple[Rate, ...]


@dataclass(frozen=True, slots=True)
class QuoteLine:
    """One line of an order or a cart group: a listing, the units bought, their unit price,
    the listing's flat fee and its profile (None: the flat fee applies)."""

    listing_id: uuid.UUID
    title: str
    units: int
    unit_price: int
    flat_fee: int
    profile: Profile | None


@dataclass(frozen=True, slots=True)
class ProfileCharge:
    """What the lines on one profile pay together, and how it was reckoned."""

    profile_id: uuid.UUID
    profile_name: str
    destination: str
    """The code of the rate that matched: the country itself, a region (`EU`) or `*`."""
    listing_ids: tuple[uuid.UUID, ...]
    units: int
    items_amount: int
    first_item: int
    additional_item: int
    free_over: int | None
    amount: int

    def as_json(self) -> dict[str, Any]:
        """As an order keeps it (`orders.shipping_breakdown`): ids as text, amounts in minor
        units of the order's currency."""
        return {
            "profile_id": str(self.profile_id),
            "profile_name": self.profile_name,
            "destination": self.destination,
            "listing_ids": [str(listing_id) for listing_id in self.listing_ids],
            "units": self.units,
            "items_amount": self.items_amount,
            "first_item": self.first_item,
            "additional_item": self.additional_item,
            "free_over": self.free_over,
            "amount": self.amount,
        }


@dataclass(frozen=True, slots=True)
class Quote:
    fees: tuple[int, ...]
    """Each line's shipping fee, in the order the lines were given."""
    charges: tuple[ProfileCharge, ...]
    """One per profile among the lines, in the order of each profile's first line."""

    @property
    def total(self) -> int:
        return sum(self.fees)


def rate_for(profile: Profile, country: str) -> tuple[Rate, str] | None:
    """The profile's rate for `country` and the code it matched by: the rate naming the
    country, else one naming a region that holds it, else the `*` rate; None: not served."""
    by_code = {code: rate for rate in profile.rates for code in rate.destinations}
    if country in by_code and country not in REGIONS:  # an address in "EU" is nowhere
        return by_code[country], country
    for region, members in REGIONS.items():
        if region in by_code and country in members:
            return by_code[region], region
    if EVERYWHERE in by_code:
        return by_code[EVERYWHERE], EVERYWHERE
    return None


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split in proportion to `weights` (positive), rounded down, the remainder a
    unit each to the earliest shares: the shares add up to `amount` exactly."""
    total = sum(weights)
    shares = [amount * weight // total for weight in weights]
    for index in range(amount - sum(shares)):
        shares[index] += 1
    return shares


def quote(lines: Sequence[QuoteLine], country: str) -> Quote:
    """Shipping for one shop's `lines` going to `country`; DestinationNotServed naming every
    line whose profile does not ship there."""
    groups: dict[uuid.UUID, tuple[Profile, list[int]]] = {}
    for index, line in enumerate(lines):
        if line.profile is not None:
            groups.setdefault(line.profile.id, (line.profile, []))[1].append(index)
    fees = [0 if line.profile is not None else line.flat_fee for line in lines]
    charges: list[ProfileCharge] = []
    unserved: list[QuoteLine] = []
    for profile, members in groups.values():
        matched = rate_for(profile, country)
        if matched is None:
            unserved.extend(lines[index] for index in members)
            continue
        rate, destination = matched
        units = sum(lines[index].units for index in members)
        items_amount = sum(lines[index].units * lines[index].unit_price for index in members)
        free = rate.free_over is not None and items_amount >= rate.free_over
        # At most the largest amount the API carries: a rate times many units must not make
        # an order no answer can hold.
        amount = (
            0 if free else min(rate.first_item + (units - 1) * rate.additional_item, MAX_AMOUNT)
        )
        for index, share in zip(
            members, allocate(amount, [lines[i].units for i in members]), strict=True
        ):
            fees[index] = share
        charges.append(
            ProfileCharge(
                profile_id=profile.id,
                profile_name=profile.name,
                destination=destination,
                listing_ids=tuple(lines[index].listing_id for index in members),
                units=units,
                items_amount=items_amount,
                first_item=rate.first_item,
                additional_item=rate.additional_item,
                free_over=rate.free_over,
                amount=amount,
            )
        )
    if unserved:
        raise DestinationNotServed(
            country=country,
            titles=[line.title for line in unserved],
            listing_ids=[line.listing_id for line in unserved],
        )
    return Quote(tuple(fees), tuple(charges))
