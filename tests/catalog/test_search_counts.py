"""Issue 15: search refuses unknown parameters, counts its matches (exactly up to a cap) and,
when asked, shows how they spread over categories, conditions and price bands, each facet
over the other filters."""

import httpx
import pytest

from app.catalog import service
from tests.factories.accounts import LoggedIn
from tests.factories.api import assert_problem, json_ok, usd
from tests.factories.catalog import LISTINGS, create_category, leaf_category, live_listing


async def test_an_unknown_search_parameter_is_422(client: httpx.AsyncClient) -> None:
    for params in ({"categroy": "phones"}, {"q": "mug", "color": "blue"}, {"page": "2"}):
        response = await client.get(LISTINGS, params=params)
        assert_problem(response, 422, "validation_error")
        [unknown] = [name for name in params if name not in {"q"}]
        assert ["query", unknown] in [e["loc"] for e in response.json()["errors"]]


async def test_the_first_page_counts_the_matches_and_later_pages_do_not(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    for n in range(3):
        await live_listing(
            client, seller=seller, category_id=category_id, title=f"Teapot {n}", price=usd(500)
        )
    await live_listing(client, seller=seller, category_id=category_id, title="Kettle")

    first = json_ok(await client.get(LISTINGS, params={"q": "teapot", "limit": 2}))
    later = json_ok(
        await client.get(
            LISTINGS, params={"q": "teapot", "limit": 2, "cursor": first["next_cursor"]}
        )
    )

    assert (first["total"], first["total_capped"], first["facets"]) == (3, False, None)
    assert len(first["items"]) == 2
    assert (later["total"], later["total_capped"]) == (None, False)
    assert json_ok(await client.get(LISTINGS, params={"q": "nothing-like-it"}))["total"] == 0


async def test_past_the_cap_the_count_says_so(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    category_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "SEARCH_COUNT_CAP", 2)
    for n in range(3):
        await live_listing(client, seller=seller, category_id=category_id, title=f"Lamp {n}")

    page = json_ok(await client.get(LISTINGS, params={"facets": "true"}))

    assert (page["total"], page["total_capped"]) == (2, True)
    assert page["facets"]["capped"] is True
    assert len(page["items"]) == 3  # the cap bounds the count, never the results


async def test_facets_count_each_dimension_over_the_other_filters(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn
) -> None:
    home = await create_category(client, admin=admin, name="Home")
    kitchen = await leaf_category(client, admin=admin, parent_id=home["id"])
    garden = await leaf_category(client, admin=admin, parent_id=home["id"])
    toys = await leaf_category(client, admin=admin)
    for category, condition, price in (
        (kitchen, "new", 800),
        (kitchen, "new", 3000),
        (kitchen, "good", 3000),
        (garden, "new", 60_000),
        (toys, "new", 1500),
    ):
        await live_listing(
            client,
            seller=seller,
            category_id=category,
            condition=condition,
            price=usd(price),
            title=f"Gadget {category[:4]} {condition} {price}",
        )

    page = json_ok(
        await client.get(
            LISTINGS,
            params={"category": home["id"], "condition": "new", "facets": "true"},
        )
    )

    assert page["total"] == 3  # kitchen new 800, kitchen new 3000, garden new 60000
    facets = page["facets"]
    # Categories: the children of Home, over condition=new (the category filter set aside
    # only below Home, as a category facet refines the category chosen).
    assert {(c["id"], c["count"]) for c in facets["categories"]} == {(kitchen, 2), (garden, 1)}
    assert all({"name", "slug"} <= set(c) for c in facets["categories"])
    # Conditions: over Home, whatever the condition.
    assert facets["conditions"] == [
        {"condition": "new", "count": 3},
        {"condition": "good", "count": 1},
    ]
    # Price bands: over Home and new, whatever the price; bounds are Money.
    assert facets["price_bands"] == [
        {"key": "under_10", "min_price": None, "max_price": usd(999), "count": 1},
        {"key": "25_to_50", "min_price": usd(2500), "max_price": usd(4999), "count": 1},
        {"key": "500_and_over", "min_price": usd(50_000), "max_price": None, "count": 1},
    ]
    assert facets["capped"] is False

    top = json_ok(await client.get(LISTINGS, params={"facets": "true"}))
    assert {(c["id"], c["count"]) for c in top["facets"]["categories"]} == {
        (home["id"], 4),
        (toys, 1),
    }
