"""An order's ship-by date: its lines' longest handling time, in business days after payment
(weekends skipped; public holidays are out of scope), capped by `MARKETPLACE_SHIP_BY`."""

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import add_business_days, clock
from app.core.db import Database
from tests.factories.api import parse_time
from tests.factories.apps import client_with, make_settings
from tests.factories.catalog import live_listing
from tests.factories.orders import add_to_cart, checkout, market, pay
from tests.factories.sellers import approved_seller

# A week of known weekdays: Monday 4 January 2027 to Sunday 10 January.
MON = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
TUE, WED, THU, FRI, SAT, SUN = (MON + timedelta(days=n) for n in range(1, 7))


# --- add_business_days ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        pytest.param(FRI, 1, MON + timedelta(weeks=1), id="friday+1-is-monday"),
        pytest.param(SAT, 0, MON + timedelta(weeks=1), id="saturday+0-is-monday"),
        pytest.param(SUN, 0, MON + timedelta(weeks=1), id="sunday+0-is-monday"),
        pytest.param(SAT, 1, TUE + timedelta(weeks=1), id="saturday+1-is-tuesday"),
        pytest.param(WED, 0, WED, id="weekday+0-is-itself"),
        pytest.param(WED, 2, FRI, id="wednesday+2-is-friday"),
        pytest.param(THU, 2, MON + timedelta(weeks=1), id="thursday+2-is-monday"),
        pytest.param(MON, 5, MON + timedelta(weeks=1), id="a-week"),
        pytest.param(MON, 30, MON + timedelta(weeks=6), id="thirty-from-a-monday"),
        pytest.param(SAT, 30, MON + timedelta(weeks=7), id="thirty-from-a-saturday"),
    ],
)
def test_business_days_skip_weekends(start: datetime, days: int, expected: datetime) -> None:
    assert add_business_days(start, days) == expected


def test_the_time_of_day_is_kept_across_a_weekend() -> None:
    friday_evening = datetime(2027, 1, 8, 17, 45, 30, 123456, tzinfo=UTC)

    assert add_business_days(friday_evening, 3) == datetime(
        2027, 1, 13, 17, 45, 30, 123456, tzinfo=UTC
    )


def test_weekdays_are_judged_in_utc() -> None:
    # Saturday 01:00 in UTC+2 is still Friday 23:00 in UTC: a business day.
    saturday_at_utc_plus_2 = datetime(2027, 1, 9, 1, 0, tzinfo=timezone(timedelta(hours=2)))

    assert add_business_days(saturday_at_utc_plus_2, 0) == datetime(2027, 1, 8, 23, 0, tzinfo=UTC)
    assert add_business_days(saturday_at_utc_plus_2, 1) == datetime(2027, 1, 11, 23, 0, tzinfo=UTC)


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_days(MON, -1)


def test_the_default_cap_honours_the_longest_handling_time_from_any_day() -> None:
    cap = Settings.model_fields["ship_by"].default
    longest = max(
        add_business_days(start, 30) - start for start in (MON, TUE, WED, THU, FRI, SAT, SUN)
    )

    assert longest == timedelta(days=44)
    assert cap >= longest


# --- through the API --------------------------------------------------------------------------


def _next_weekday(weekday: int) -> datetime:
    """The first such weekday (Monday 0) at 10:00 UTC at least a day from now: the clock is
    frozen there, in the future so the tokens issued then are never already expired."""
    day = (clock.now() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


async def test_the_slowest_line_sets_the_ship_by_date_in_business_days(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    thursday = _next_weekday(3)
    clock.freeze(thursday)
    m = await market(client, session)
    quick = await live_listing(client, seller=m.seller, category_id=m.category_id, handling_days=1)
    slow = await live_listing(client, seller=m.seller, category_id=m.category_id, handling_days=4)
    await add_to_cart(client, who=m.buyer, listing_id=quick["id"], quantity=1)
    await add_to_cart(client, who=m.buyer, listing_id=slow["id"], quantity=1)
    created = await checkout(client, who=m.buyer)
    (unpaid,) = created["orders"]

    paid = await pay(client, who=m.buyer, checkout_id=created["id"])

    (order,) = paid["orders"]
    assert len(order["lines"]) == 2
    assert unpaid["handling_days"] == 4
    assert unpaid["ship_by"] is None
    assert order["handling_days"] == 4
    assert parse_time(order["paid_at"]) == thursday
    # Thursday + 4 business days: Friday, Monday, Tuesday, Wednesday.
    assert parse_time(order["ship_by"]) == thursday + timedelta(days=6)


async def test_each_shops_order_of_a_checkout_has_its_own_handling_time(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    friday = _next_weekday(4)
    clock.freeze(friday)
    m = await market(client, session)
    other, other_id = await approved_seller(client, session, admin=m.admin)
    mine = await live_listing(client, seller=m.seller, category_id=m.category_id, handling_days=0)
    theirs = await live_listing(client, seller=other, category_id=m.category_id, handling_days=3)
    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": mine["id"], "quantity": 1},
            {"listing_id": theirs["id"], "quantity": 1},
        ],
    )

    paid = await pay(client, who=m.buyer, checkout_id=created["id"])

    by_shop = {o["shop_id"]: o for o in paid["orders"]}
    assert by_shop[m.seller_id]["handling_days"] == 0
    assert parse_time(by_shop[m.seller_id]["ship_by"]) == friday
    assert by_shop[other_id]["handling_days"] == 3
    # Friday + 3 business days: Monday, Tuesday, Wednesday.
    assert parse_time(by_shop[other_id]["ship_by"]) == friday + timedelta(days=5)


async def test_the_default_cap_keeps_thirty_handling_days_from_a_saturday(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    saturday = _next_weekday(5)
    clock.freeze(saturday)
    m = await market(client, session)
    listing = await live_listing(
        client, seller=m.seller, category_id=m.category_id, handling_days=30
    )
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )

    paid = await pay(client, who=m.buyer, checkout_id=created["id"])

    (order,) = paid["orders"]
    assert order["handling_days"] == 30
    # The Monday after, then six weeks of business days.
    assert parse_time(order["ship_by"]) == saturday + timedelta(days=44)


async def test_the_ship_by_setting_caps_a_longer_handling_time(
    session: AsyncSession, database: Database, settings: Settings
) -> None:
    thursday = _next_weekday(3)
    clock.freeze(thursday)
    capped = make_settings(settings.database_url, ship_by=timedelta(days=3))
    async with client_with(database, capped) as client:
        m = await market(client, session)
        listing = await live_listing(
            client, seller=m.seller, category_id=m.category_id, handling_days=4
        )
        created = await checkout(
            client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
        )

        paid = await pay(client, who=m.buyer, checkout_id=created["id"])

    (order,) = paid["orders"]
    assert order["handling_days"] == 4
    # Four business days would be next Wednesday; the cap ends it on Sunday.
    assert parse_time(order["ship_by"]) == thursday + timedelta(days=3)
