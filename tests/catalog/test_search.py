"""GET /v1/listings: full-text and filters, sort orders with exact tie-breaking, and keyset
pagination that stays correct while listings are published. Only live listings (active,
from approved sellers) are ever found."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.core.clock import clock
from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, assert_problem, json_ok, usd
from tests.factories.catalog import (
    LISTINGS,
    act,
    create_category,
    create_listing,
    live_listing,
    patch_listing,
    publish,
    search_all,
    search_ids,
)


@dataclass
class Catalog:
    electronics: Json
    phones: Json
    laptops: Json
    fashion: Json
    shoes: Json
    seller_a: str
    seller_b: str
    listings: dict[str, Json]

    def ids(self, *names: str) -> set[str]:
        return {self.listings[n]["id"] for n in names}


@pytest.fixture
async def catalog(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller_and_id: tuple[LoggedIn, str],
    other_seller: LoggedIn,
) -> Catalog:
    seller_a, seller_a_id = seller_and_id
    electronics = await create_category(client, admin=admin, name="Electronics")
    phones = await create_category(client, admin=admin, name="Phones", parent_id=electronics["id"])
    laptops = await create_category(
        client, admin=admin, name="Laptops", parent_id=electronics["id"]
    )
    fashion = await create_category(client, admin=admin, name="Fashion")
    shoes = await create_category(client, admin=admin, name="Shoes", parent_id=fashion["id"])
    specs: list[tuple[str, LoggedIn, Json, str, str, int, str]] = [
        ("iphone", seller_a, phones, "iPhone 13 Pro", "Unlocked, 128 GB", 69900, "like_new"),
        ("galaxy", other_seller, phones, "Galaxy S21", "Android phone in blue", 49900, "good"),
        (
            "thinkpad",
            seller_a,
            laptops,
            "ThinkPad X1 Carbon",
            "Business laptop with charger",
            89900,
            "good",
        ),
        ("runners", other_seller, shoes, "Running shoes", "Barely used, size 42", 4999, "like_new"),
        ("boots", seller_a, shoes, "Leather boots", "Vintage brown", 12000, "fair"),
        ("case", other_seller, phones, "Phone case", "Fits iphone models", 999, "new"),
    ]
    listings = {}
    for name, owner, category, title, description, price, condition in specs:
        listings[name] = await live_listing(
            client,
            seller=owner,
            category_id=category["id"],
            title=title,
            description=description,
            price=usd(price),
            condition=condition,
        )
    return Catalog(
        electronics=electronics,
        phones=phones,
        laptops=laptops,
        fashion=fashion,
        shoes=shoes,
        seller_a=seller_a_id,
        seller_b=listings["galaxy"]["seller"]["id"],
        listings=listings,
    )


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("galaxy", {"galaxy"}, id="title-word"),
        pytest.param("CARBON", {"thinkpad"}, id="title-word-any-case"),
        pytest.param("charger", {"thinkpad"}, id="description-word"),
        pytest.param("vintage", {"boots"}, id="description-word-2"),
        pytest.param("iph", {"iphone", "case"}, id="prefix-in-title-and-description"),
        pytest.param("iPhone 13", {"iphone"}, id="every-word-must-match"),
        pytest.param("leather boot", {"boots"}, id="word-prefixes"),
        pytest.param("submarine", set(), id="no-match"),
        pytest.param("runn", {"runners"}, id="prefix-of-running"),
        pytest.param("runnin", {"runners"}, id="longer-prefix-of-running"),
        pytest.param("unlock", {"iphone"}, id="prefix-of-unlocked"),
        pytest.param("unlocke", {"iphone"}, id="longer-prefix-of-unlocked"),
        pytest.param("iphone & | ! :* ( ' \"", {"iphone", "case"}, id="query-syntax-is-inert"),
        pytest.param("%case%", {"case"}, id="like-wildcards-are-inert"),
    ],
)
async def test_q_matches_title_and_description_words(
    client: httpx.AsyncClient, catalog: Catalog, q: str, expected: set[str]
) -> None:
    found = await search_ids(client, q=q)

    assert len(found) == len(set(found))
    assert set(found) == catalog.ids(*expected)


async def test_q_results_carry_public_listing_views(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    [item] = await search_all(client, q="iph", max_price=100_000, min_price=50_000)

    assert item["id"] == catalog.listings["iphone"]["id"]
    assert item["title"] == "iPhone 13 Pro"
    assert item["price"] == usd(69900)
    assert item["status"] == "active"
    assert item["for_sale"] is True
    # Issue 15: public views carry no insider field (not even empty).
    assert not {"status_reason", "allowed_actions", "low_stock_threshold"} & set(item)
    assert item["seller"]["id"] == catalog.seller_a


# --- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        pytest.param(
            "electronics", {"iphone", "galaxy", "thinkpad", "case"}, id="root-includes-leaves"
        ),
        pytest.param("phones", {"iphone", "galaxy", "case"}, id="leaf"),
        pytest.param("fashion", {"runners", "boots"}, id="other-root"),
    ],
)
@pytest.mark.parametrize("by", ["id", "slug"])
async def test_category_filter_includes_descendants(
    client: httpx.AsyncClient, catalog: Catalog, category: str, expected: set[str], by: str
) -> None:
    node: Json = getattr(catalog, category)

    found = await search_ids(client, category=node[by])

    assert set(found) == catalog.ids(*expected)
    assert len(found) == len(expected)


async def test_category_filter_reaches_deep_descendants(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn
) -> None:
    root = await create_category(client, admin=admin, name="Home")
    middle = await create_category(client, admin=admin, name="Kitchen", parent_id=root["id"])
    leaf = await create_category(client, admin=admin, name="Mugs", parent_id=middle["id"])
    listing = await live_listing(client, seller=seller, category_id=leaf["id"])
    elsewhere = await create_category(client, admin=admin, name="Garden")
    await live_listing(client, seller=seller, category_id=elsewhere["id"])

    for reference in (root["id"], root["slug"], middle["slug"], leaf["slug"]):
        assert await search_ids(client, category=reference) == [listing["id"]], reference


@pytest.mark.parametrize("category", ["no-such-category", str(uuid.uuid4())])
async def test_an_unknown_category_finds_nothing(
    client: httpx.AsyncClient, catalog: Catalog, category: str
) -> None:
    assert await search_ids(client, category=category) == []


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        pytest.param(
            {"min_price": 4999, "max_price": 49900},
            {"runners", "boots", "galaxy"},
            id="both-inclusive",
        ),
        pytest.param({"min_price": 5000, "max_price": 49899}, {"boots"}, id="just-inside"),
        pytest.param({"min_price": 69900}, {"iphone", "thinkpad"}, id="min-only"),
        pytest.param({"max_price": 999}, {"case"}, id="max-only"),
        pytest.param({"min_price": 12000, "max_price": 12000}, {"boots"}, id="equal-bounds"),
        pytest.param(
            {"min_price": 0},
            {"iphone", "galaxy", "thinkpad", "runners", "boots", "case"},
            id="zero",
        ),
    ],
)
async def test_price_bounds_are_inclusive(
    client: httpx.AsyncClient, catalog: Catalog, bounds: Json, expected: set[str]
) -> None:
    found = await search_ids(client, **bounds)

    assert set(found) == catalog.ids(*expected)
    assert len(found) == len(expected)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"min_price": 5000, "max_price": 4999}, id="min-above-max"),
        pytest.param({"min_price": -1}, id="negative-min"),
        pytest.param({"max_price": "cheap"}, id="not-a-number"),
        pytest.param({"condition": "mint"}, id="unknown-condition"),
        pytest.param({"sort": "random"}, id="unknown-sort"),
        pytest.param({"seller": "not-a-uuid"}, id="bad-seller"),
        pytest.param({"limit": 0}, id="limit-zero"),
        pytest.param({"limit": 101}, id="limit-over-100"),
        pytest.param({"q": "x" * 201}, id="long-q"),
        # Found by the fuzzer: past 2^63 - 1 a bound overflowed the database driver (500).
        pytest.param({"min_price": 2**63}, id="min-beyond-int64"),
        pytest.param({"max_price": 10**30}, id="max-beyond-int64"),
        pytest.param({"max_price": 10**12 + 1}, id="max-beyond-any-amount"),
        # NUL is refused in query strings as in bodies (PostgreSQL cannot compare it).
        pytest.param({"q": "phone\x00"}, id="nul-in-q"),
        pytest.param({"category": "\x00"}, id="nul-in-category"),
        pytest.param({"cursor": "abc\x00"}, id="nul-in-cursor"),
    ],
)
async def test_bad_search_parameters_are_422(
    client: httpx.AsyncClient, catalog: Catalog, params: Json
) -> None:
    response = await client.get(LISTINGS, params=params)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]


async def test_the_largest_amount_is_a_valid_price_bound(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    found = await search_ids(client, min_price=0, max_price=10**12)

    assert set(found) == set(catalog.ids(*catalog.listings))


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        pytest.param(["good"], {"galaxy", "thinkpad"}, id="one"),
        pytest.param(["good", "fair"], {"galaxy", "thinkpad", "boots"}, id="repeated"),
        pytest.param(["new", "like_new"], {"case", "iphone", "runners"}, id="repeated-2"),
        pytest.param(["for_parts"], set(), id="none-in-that-condition"),
    ],
)
async def test_condition_filter_is_repeatable(
    client: httpx.AsyncClient, catalog: Catalog, conditions: list[str], expected: set[str]
) -> None:
    found = await search_ids(client, condition=conditions)

    assert set(found) == catalog.ids(*expected)
    assert len(found) == len(expected)


async def test_seller_filter(client: httpx.AsyncClient, catalog: Catalog) -> None:
    assert set(await search_ids(client, seller=catalog.seller_a)) == catalog.ids(
        "iphone", "thinkpad", "boots"
    )
    assert set(await search_ids(client, seller=catalog.seller_b)) == catalog.ids(
        "galaxy", "runners", "case"
    )
    assert await search_ids(client, seller=str(uuid.uuid4())) == []


async def test_filters_combine(client: httpx.AsyncClient, catalog: Catalog) -> None:
    found = await search_ids(
        client,
        q="phone",
        category=catalog.phones["slug"],
        max_price=50_000,
        seller=catalog.seller_b,
        condition=["good", "new"],
        sort="price_asc",
    )

    assert found == [catalog.listings["case"]["id"], catalog.listings["galaxy"]["id"]]


# --- sorting and pagination -----------------------------------------------------------------


@dataclass
class Ranked:
    """Listings whose order under each sort is known independently of the API."""

    items: list[Json]
    expected: dict[str, list[str]]


def _order(items: list[Json], key: Callable[[Json], Any]) -> list[str]:
    return [item["id"] for item in sorted(items, key=key)]


def _expected_orders(items: list[Json]) -> dict[str, list[str]]:
    """Ids are version-7 UUIDs in canonical form, so their text order is their byte order."""

    def newest(item: Json) -> Any:
        return (item["published_at"], item["id"])

    def price(item: Json) -> Any:
        return (item["price"]["amount"], item["id"])

    return {
        "newest": _order(items, newest)[::-1],
        "price_asc": _order(items, price),
        "price_desc": _order(items, price)[::-1],
    }


@pytest.fixture
async def ranked(client: httpx.AsyncClient, seller: LoggedIn, category_id: str) -> Ranked:
    """Six listings with tied prices and tied publication times: created 0..5 (ids ascending),
    published 5, 3, 1 at one instant and 4, 2, 0 at a later one."""
    prices = [3000, 1000, 2000, 1000, 3000, 2000]
    drafts = [
        await create_listing(
            client, seller=seller, category_id=category_id, title=f"Widget {n}", price=usd(price)
        )
        for n, price in enumerate(prices)
    ]
    clock.freeze()
    published: dict[int, Json] = {}
    for n in (5, 3, 1):
        published[n] = await publish(client, seller=seller, listing_id=drafts[n]["id"])
    clock.advance(timedelta(seconds=1))
    for n in (4, 2, 0):
        published[n] = await publish(client, seller=seller, listing_id=drafts[n]["id"])
    items = [published[n] for n in range(6)]
    assert len({item["published_at"] for item in items}) == 2
    ids = [item["id"] for item in items]
    expected = _expected_orders(items)
    # Spelled out, so the test does not just trust the helper above.
    assert expected["newest"] == [ids[4], ids[2], ids[0], ids[5], ids[3], ids[1]]
    assert expected["price_asc"] == [ids[1], ids[3], ids[2], ids[5], ids[0], ids[4]]
    assert expected["price_desc"] == [ids[4], ids[0], ids[5], ids[2], ids[3], ids[1]]
    return Ranked(items=items, expected=expected)


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc"])
async def test_sort_orders_break_ties_by_id(
    client: httpx.AsyncClient, ranked: Ranked, sort: str
) -> None:
    response = await client.get(LISTINGS, params={"sort": sort, "limit": 100})

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == ranked.expected[sort]
    assert response.json()["next_cursor"] is None


async def test_default_order_is_newest_first(client: httpx.AsyncClient, ranked: Ranked) -> None:
    assert await search_ids(client) == ranked.expected["newest"]
    # Relevance without words to rank by falls back to the same order.
    assert await search_ids(client, sort="relevance") == ranked.expected["newest"]


@pytest.mark.parametrize(
    ("sort", "q"),
    [
        ("newest", None),
        ("price_asc", None),
        ("price_desc", None),
        ("relevance", "widget"),
        ("price_asc", "widget"),
    ],
)
async def test_pages_of_two_walk_every_result_exactly_once(
    client: httpx.AsyncClient, ranked: Ranked, sort: str, q: str | None
) -> None:
    one_page = await client.get(
        LISTINGS, params={"sort": sort, "limit": 100, **({"q": q} if q else {})}
    )
    assert one_page.status_code == 200, one_page.text
    everything = [item["id"] for item in one_page.json()["items"]]
    pages: list[list[str]] = []
    cursor = None
    for _ in range(10):
        params: Json = {"sort": sort, "limit": 2, **({"q": q} if q else {})}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(LISTINGS, params=params)
        assert response.status_code == 200, response.text
        pages.append([item["id"] for item in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    walked = [listing_id for page in pages for listing_id in page]
    assert walked == everything
    assert sorted(walked) == sorted(item["id"] for item in ranked.items)
    assert [len(page) for page in pages] == [2, 2, 2]
    if sort in ranked.expected:
        assert walked == ranked.expected[sort]


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc"])
async def test_pagination_stays_correct_when_a_listing_is_published_between_pages(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str, ranked: Ranked, sort: str
) -> None:
    first = await client.get(LISTINGS, params={"sort": sort, "limit": 2})
    assert first.status_code == 200, first.text
    walked = [item["id"] for item in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    assert cursor is not None

    clock.advance(timedelta(seconds=1))
    newcomer = await live_listing(
        client, seller=seller, category_id=category_id, title="Widget new", price=usd(2000)
    )
    while cursor is not None:
        response = await client.get(LISTINGS, params={"sort": sort, "limit": 2, "cursor": cursor})
        assert response.status_code == 200, response.text
        walked += [item["id"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]

    assert len(walked) == len(set(walked)), "an item was served twice"
    originals = [listing_id for listing_id in walked if listing_id != newcomer["id"]]
    assert originals == ranked.expected[sort], "an older item was skipped or reordered"
    # The newcomer shows up exactly when it sorts after the first page.
    full_order = _expected_orders([*ranked.items, newcomer])[sort]
    after_first_page = full_order.index(newcomer["id"]) > full_order.index(walked[1])
    assert (newcomer["id"] in walked) is after_first_page
    assert after_first_page is (sort != "newest")


async def test_a_cursor_of_another_sort_is_422(client: httpx.AsyncClient, ranked: Ranked) -> None:
    first = await client.get(LISTINGS, params={"sort": "price_asc", "limit": 2})
    cursor = first.json()["next_cursor"]
    assert cursor is not None

    for sort in ("newest", "price_desc", "relevance"):
        response = await client.get(LISTINGS, params={"sort": sort, "limit": 2, "cursor": cursor})
        assert_problem(response, 422, "invalid_cursor")
    same_sort = await client.get(
        LISTINGS, params={"sort": "price_asc", "limit": 2, "cursor": cursor}
    )
    assert same_sort.status_code == 200, same_sort.text


@pytest.mark.parametrize("cursor", ["garbage", "e30", "WyJuZXdlc3QiXQ", "!!!"])
async def test_a_forged_cursor_is_422(
    client: httpx.AsyncClient, ranked: Ranked, cursor: str
) -> None:
    response = await client.get(LISTINGS, params={"cursor": cursor})

    assert_problem(response, 422, "invalid_cursor")


# --- visibility -----------------------------------------------------------------------------


async def test_only_active_listings_of_approved_sellers_are_found(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    other_seller: LoggedIn,
    category_id: str,
) -> None:
    active = await live_listing(
        client, seller=seller, category_id=category_id, title="Desk lamp active"
    )
    await create_listing(client, seller=seller, category_id=category_id, title="Desk lamp draft")
    paused = await live_listing(
        client, seller=seller, category_id=category_id, title="Desk lamp paused"
    )
    await act(client, who=seller, action="pause", listing_id=paused["id"], expected="paused")
    sold_out = await live_listing(
        client, seller=seller, category_id=category_id, title="Desk lamp sold"
    )
    assert (await patch_listing(client, seller=seller, listing_id=sold_out["id"], quantity=0))[
        "status"
    ] == "sold_out"
    pending = await create_listing(
        client, seller=seller, category_id=category_id, title="Desk lamp replica"
    )
    await act(
        client, who=seller, action="publish", listing_id=pending["id"], expected="pending_review"
    )
    rejected = await create_listing(
        client, seller=seller, category_id=category_id, title="Desk lamp stolen"
    )
    await act(
        client, who=seller, action="publish", listing_id=rejected["id"], expected="pending_review"
    )
    await act(client, who=admin, action="reject", listing_id=rejected["id"], expected="rejected")
    archived = await live_listing(
        client, seller=seller, category_id=category_id, title="Desk lamp archived"
    )
    await act(client, who=seller, action="archive", listing_id=archived["id"], expected="archived")
    removed = await live_listing(
        client, seller=seller, category_id=category_id, title="Desk lamp removed"
    )
    await act(client, who=admin, action="remove", listing_id=removed["id"], expected="removed")
    suspended_listing = await live_listing(
        client, seller=other_seller, category_id=category_id, title="Desk lamp b"
    )
    suspended_id = suspended_listing["seller"]["id"]
    suspension = await client.post(
        f"/v1/admin/sellers/{suspended_id}/suspend",
        json={"reason": "checks"},
        headers=admin.headers,
    )
    assert suspension.status_code == 200, suspension.text

    for params in ({}, {"q": "lamp"}, {"category": category_id}, {"sort": "price_asc"}):
        assert await search_ids(client, **params) == [active["id"]], params
    assert await search_ids(client, seller=suspended_id) == []
    # Issue 15: readable, and marked not for sale with the shop's state.
    public = json_ok(await client.get(f"{LISTINGS}/{suspended_listing['id']}"))
    assert (public["status"], public["for_sale"]) == ("shop_suspended", False)

    reinstated = await client.post(
        f"/v1/admin/sellers/{suspended_id}/reinstate", headers=admin.headers
    )
    assert reinstated.status_code == 200, reinstated.text
    assert set(await search_ids(client, q="lamp")) == {active["id"], suspended_listing["id"]}


@pytest.mark.postgres_only
async def test_relevance_ranks_a_title_match_above_a_description_match(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    in_title = await live_listing(
        client,
        seller=seller,
        category_id=category_id,
        title="Camera tripod",
        description="Aluminium, three legs",
    )
    in_description = await live_listing(
        client,
        seller=seller,
        category_id=category_id,
        title="Aluminium tripod",
        description="Fits any camera",
    )

    by_relevance = await search_ids(client, q="camera")
    explicit = await search_ids(client, q="camera", sort="relevance")
    by_newest = await search_ids(client, q="camera", sort="newest")

    assert by_relevance == [in_title["id"], in_description["id"]]
    assert explicit == by_relevance
    assert by_newest == [in_description["id"], in_title["id"]]
