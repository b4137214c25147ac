"""The combined-shipping quote as a pure function: which rate a country gets, what each
profile's lines pay together, and how that fee is split over the lines to the minor unit."""

import uuid

import pytest

from app.shipping.exceptions import DestinationNotServed
from app.shipping.quote import Profile, QuoteLine, Rate, allocate, quote, rate_for
from app.shipping.regions import COUNTRIES, EU, REGIONS


def _profile(*rates: Rate, name: str = "Standard") -> Profile:
    return Profile(id=uuid.uuid4(), name=name, rates=rates)


def _line(
    profile: Profile | None, *, units: int, price: int = 1000, flat: int = 0, title: str = "Mug"
) -> QuoteLine:
    return QuoteLine(
        listing_id=uuid.uuid4(),
        title=title,
        units=units,
        unit_price=price,
        flat_fee=flat,
        profile=profile,
    )


DOMESTIC = Rate(("DE",), first_item=500, additional_item=250, free_over=None)
EUROPE = Rate(("EU",), first_item=900, additional_item=400, free_over=None)
WORLD = Rate(("*",), first_item=2000, additional_item=1000, free_over=None)


@pytest.mark.parametrize(
    ("amount", "weights", "shares"),
    [
        pytest.param(1000, [2, 1], [667, 333], id="thirds: the remainder to the first line"),
        pytest.param(10, [1, 1, 1], [4, 3, 3], id="one unit over"),
        pytest.param(11, [1, 1, 1], [4, 4, 3], id="two units over, to the earliest two"),
        pytest.param(7, [3], [7], id="one line takes it all"),
        pytest.param(0, [2, 5], [0, 0], id="free"),
        pytest.param(100, [1, 3], [25, 75], id="even"),
        pytest.param(1, [1, 1000], [1, 0], id="smaller than the lines"),
    ],
)
def test_a_fee_is_split_by_units_to_the_minor_unit(
    amount: int, weights: list[int], shares: list[int]
) -> None:
    split = allocate(amount, weights)

    assert split == shares
    assert sum(split) == amount


def test_lines_on_one_profile_pay_the_first_item_once_and_the_additional_fee_for_the_rest() -> None:
    standard = _profile(DOMESTIC)
    two_mugs = _line(standard, units=2, price=1200)
    one_plate = _line(standard, units=1, price=800)

    quoted = quote([two_mugs, one_plate], "DE")

    assert quoted.total == 500 + 2 * 250
    assert quoted.fees == (667, 333)
    (charge,) = quoted.charges
    assert charge.profile_id == standard.id
    assert charge.profile_name == "Standard"
    assert charge.destination == "DE"
    assert charge.listing_ids == (two_mugs.listing_id, one_plate.listing_id)
    assert charge.units == 3
    assert charge.items_amount == 2 * 1200 + 800
    assert (charge.first_item, charge.additional_item, charge.free_over) == (500, 250, None)
    assert charge.amount == 1000


def test_shipping_is_free_from_the_threshold_on_and_charged_below_it() -> None:
    free_over_30 = _profile(Rate(("DE",), first_item=500, additional_item=250, free_over=3000))

    at_threshold = quote([_line(free_over_30, units=2, price=1500)], "DE")
    below = quote([_line(free_over_30, units=2, price=1499)], "DE")

    assert at_threshold.fees == (0,)
    assert at_threshold.charges[0].amount == 0
    assert at_threshold.charges[0].free_over == 3000
    assert below.fees == (750,)


def test_lines_without_a_profile_keep_their_flat_fee_once_per_line() -> None:
    standard = _profile(DOMESTIC)
    flat = _line(None, units=3, flat=450)
    profiled = _line(standard, units=1)

    quoted = quote([flat, profiled], "DE")

    assert quoted.fees == (450, 500)
    assert [charge.listing_ids for charge in quoted.charges] == [(profiled.listing_id,)]
    assert quoted.total == 950


def test_each_profile_is_charged_on_its_own() -> None:
    standard = _profile(DOMESTIC, name="Standard")
    bulky = _profile(Rate(("DE",), first_item=1500, additional_item=1500, free_over=None))
    lines = [_line(standard, units=1), _line(bulky, units=2), _line(standard, units=1)]

    quoted = quote(lines, "DE")

    assert quoted.fees == (375, 3000, 375)
    assert [(c.profile_id, c.units, c.amount) for c in quoted.charges] == [
        (standard.id, 2, 750),
        (bulky.id, 2, 3000),
    ]


@pytest.mark.parametrize(
    ("country", "destination", "first_item"),
    [
        pytest.param("DE", "DE", 500, id="the country's own rate"),
        pytest.param("FR", "EU", 900, id="a region holding it"),
        pytest.param("US", "*", 2000, id="everywhere else"),
    ],
)
def test_a_country_gets_its_own_rate_else_its_regions_else_everywhere_elses(
    country: str, destination: str, first_item: int
) -> None:
    profile = _profile(WORLD, EUROPE, DOMESTIC)

    matched = rate_for(profile, country)

    assert matched is not None
    rate, code = matched
    assert (code, rate.first_item) == (destination, first_item)


def test_a_country_no_rate_names_is_not_served_and_the_error_names_every_such_line() -> None:
    europe = _profile(EUROPE)
    domestic = _profile(DOMESTIC)
    lamp = _line(europe, units=1, title="Lamp")
    chair = _line(domestic, units=1, title="Chair")
    flat = _line(None, units=1, flat=300, title="Poster")

    with pytest.raises(DestinationNotServed) as refused:
        quote([lamp, flat, chair], "US")

    assert refused.value.country == "US"
    assert refused.value.titles == ("Lamp", "Chair")
    assert refused.value.listing_ids == (lamp.listing_id, chair.listing_id)
    assert "'Lamp', 'Chair' are not shipped to US" in refused.value.detail
    assert refused.value.extra == {
        "country": "US",
        "listing_ids": [str(lamp.listing_id), str(chair.listing_id)],
    }
    assert rate_for(europe, "CH") is None  # Switzerland is not in the EU


def test_a_region_code_is_no_country_of_its_own() -> None:
    europe_only = _profile(EUROPE)
    everywhere = _profile(EUROPE, WORLD)

    assert rate_for(europe_only, "EU") is None
    matched = rate_for(everywhere, "EU")
    assert matched is not None
    assert matched[1] == "*"


def test_the_eu_has_its_27_member_states_all_countries() -> None:
    assert len(set(EU)) == 27
    assert set(EU) <= COUNTRIES
    assert REGIONS["EU"] == frozenset(EU)
    assert "GR" in EU
    assert not set(REGIONS) & COUNTRIES
    assert {"GB", "US", "XK"} <= COUNTRIES
    assert "UK" not in COUNTRIES
