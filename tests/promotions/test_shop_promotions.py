"""A shop's own promotions: made, read, changed and ended by their shop only, checked on the
way in (kind fields, tiers, dates, restrictions, codes), and reachable with listing scopes."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import clock
from tests.factories.accounts import buyer_user
from tests.factories.api import Json, assert_problem, json_ok, only_page, usd
from tests.factories.api_keys import integration_of
from tests.factories.catalog import listing_for_sale, nested_leaf_category
from tests.factories.orders import market
from tests.factories.promotions import (
    SHOP_PROMOTIONS,
    percent_body,
    post_shop_promotion,
    shop_promotion,
)
from tests.factories.sellers import approved_seller


async def test_a_shop_makes_reads_changes_and_ends_a_promotion(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.freeze()
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    body = percent_body(
        name="Spring sale",
        code="spring-Sale",
        starts_at=(clock.now() + timedelta(minutes=1)).isoformat(),
        ends_at=(clock.now() + timedelta(days=10)).isoformat(),
        max_redemptions=50,
        min_order_amount=usd(3000),
        category_ids=[m.category_id],
        listing_ids=[listing["id"]],
    )

    created = json_ok(await post_shop_promotion(client, seller=m.seller, body=body), 201)

    assert created == {
        "id": created["id"],
        "name": "Spring sale",
        "kind": "percent",
        "percent": 10,
        "max_discount": usd(2000),
        "amount_off": None,
        "tiers": None,
        "code": "SPRING-SALE",
        "funded_by": "shop",
        "seller_id": m.seller_id,
        "status": "scheduled",
        "starts_at": created["starts_at"],
        "ends_at": created["ends_at"],
        "max_redemptions": 50,
        "max_per_buyer": 1,  # the default of a code
        "redemptions": 0,
        "min_order_amount": usd(3000),
        "seller_ids": [],
        "category_ids": [m.category_id],
        "listing_ids": [listing["id"]],
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }
    url = f"{SHOP_PROMOTIONS}/{created['id']}"
    assert json_ok(await client.get(url, headers=m.seller.headers)) == created
    assert only_page(await client.get(SHOP_PROMOTIONS, headers=m.seller.headers)) == [created]

    clock.advance(timedelta(minutes=2))
    changed = json_ok(
        await client.patch(
            url,
            json={"percent": 15, "max_discount": None, "code": None, "listing_ids": []},
            headers=m.seller.headers,
        )
    )
    assert changed["status"] == "active"
    assert (changed["percent"], changed["max_discount"], changed["code"]) == (15, None, None)
    assert changed["listing_ids"] == []
    assert changed["max_per_buyer"] == 1  # left as it was
    assert changed["name"] == "Spring sale"

    ended = json_ok(await client.post(f"{url}/end", headers=m.seller.headers))
    assert ended["status"] == "ended"
    assert ended["ends_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert_problem(
        await client.post(f"{url}/end", headers=m.seller.headers), 409, "invalid_transition"
    )
    assert_problem(
        await client.patch(url, json={"name": "Again"}, headers=m.seller.headers),
        409,
        "invalid_transition",
    )


async def test_kinds_and_their_fields(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    fixed = await shop_promotion(
        client,
        seller=m.seller,
        kind="fixed",
        percent=...,
        max_discount=...,
        amount_off=usd(500),
        code=None,
    )
    assert (fixed["kind"], fixed["amount_off"], fixed["percent"]) == ("fixed", usd(500), None)
    assert fixed["code"] is None
    assert fixed["max_per_buyer"] is None  # automatic: no limit unless one is given
    tiers = [
        {"min_subtotal": usd(5000), "discount": usd(500)},
        {"min_subtotal": usd(10000), "discount": usd(1500)},
    ]
    stepped = await shop_promotion(
        client,
        seller=m.seller,
        kind="threshold",
        percent=...,
        max_discount=...,
        tiers=tiers,
        max_per_buyer=3,
    )
    assert stepped["tiers"] == tiers
    assert stepped["max_per_buyer"] == 3


TIERS_DOWN = [
    {"min_subtotal": usd(10000), "discount": usd(1500)},
    {"min_subtotal": usd(5000), "discount": usd(500)},
]
TIERS_SAVING_LESS = [
    {"min_subtotal": usd(5000), "discount": usd(1500)},
    {"min_subtotal": usd(10000), "discount": usd(500)},
]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"percent": 0}, "greater than or equal to 1"),
        ({"percent": 101}, "less than or equal to 100"),
        ({"percent": ...}, "a percent promotion needs `percent`"),
        ({"amount_off": usd(100)}, "a percent promotion has no amount_off"),
        (
            {"kind": "threshold", "percent": ..., "max_discount": ..., "tiers": TIERS_DOWN},
            "tiers must be in ascending order",
        ),
        (
            {"kind": "threshold", "percent": ..., "max_discount": ..., "tiers": TIERS_SAVING_LESS},
            "a higher tier must save more",
        ),
        (
            {"kind": "threshold", "percent": ..., "max_discount": ..., "tiers": []},
            "at least 1 item",
        ),
        (
            {"starts_at": "2036-02-01T00:00:00Z", "ends_at": "2036-01-01T00:00:00Z"},
            "`ends_at` must be after `starts_at`",
        ),
        ({"ends_at": "2036-01-01T00:00:00"}, "timezone"),
        ({"code": "a b"}, "pattern"),
        ({"max_discount": usd(0)}, "greater than or equal to 1"),
    ],
)
async def test_a_promotion_that_makes_no_sense_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, overrides: Json, message: str
) -> None:
    m = await market(client, session)

    refused = await post_shop_promotion(client, seller=m.seller, body=percent_body(**overrides))

    problem = assert_problem(refused, 422, "validation_error")
    assert message in str(problem["errors"]), problem
    assert only_page(await client.get(SHOP_PROMOTIONS, headers=m.seller.headers)) == []


async def test_restrictions_must_name_what_exists_and_listings_of_the_shop(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    theirs = await listing_for_sale(client, seller=other, category_id=m.category_id)
    nowhere = "00000000-0000-7000-8000-000000000001"

    unknown_category = await post_shop_promotion(
        client, seller=m.seller, body=percent_body(category_ids=[m.category_id, nowhere])
    )
    problem = assert_problem(unknown_category, 422, "validation_error")
    assert problem["errors"] == [
        {"loc": ["body", "category_ids", 1], "msg": f"no category {nowhere}"}
    ]
    not_ours = await post_shop_promotion(
        client, seller=m.seller, body=percent_body(listing_ids=[theirs["id"]])
    )
    problem = assert_problem(not_ours, 422, "validation_error")
    assert problem["errors"] == [
        {"loc": ["body", "listing_ids", 0], "msg": f"no listing of your shop {theirs['id']}"}
    ]
    # A shop cannot reach other shops: there is no such field for it.
    assert_problem(
        await post_shop_promotion(
            client, seller=m.seller, body=percent_body(seller_ids=[m.seller_id])
        ),
        422,
        "validation_error",
    )
    # A parent category is fine: it includes its descendants.
    parent = await nested_leaf_category(client, admin=m.admin)
    assert (await shop_promotion(client, seller=m.seller, category_ids=[parent]))[
        "category_ids"
    ] == [parent]


async def test_the_end_must_be_ahead_and_the_limit_not_below_what_is_used(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    past = await post_shop_promotion(
        client, seller=m.seller, body=percent_body(ends_at="2001-01-01T00:00:00Z")
    )
    problem = assert_problem(past, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "ends_at"]  # type: ignore[index]
    created = await shop_promotion(client, seller=m.seller)
    url = f"{SHOP_PROMOTIONS}/{created['id']}"
    wrong_kind = await client.patch(url, json={"amount_off": usd(100)}, headers=m.seller.headers)
    problem = assert_problem(wrong_kind, 422, "validation_error")
    assert problem["errors"] == [{"loc": ["body"], "msg": "a percent promotion has no amount_off"}]
    assert_problem(
        await client.patch(url, json={"kind": "fixed"}, headers=m.seller.headers),
        422,
        "validation_error",
    )
    assert_problem(
        await client.patch(url, json={"name": None}, headers=m.seller.headers),
        422,
        "validation_error",
    )


async def test_codes_are_unique_whatever_their_case(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    await shop_promotion(client, seller=m.seller, code="WELCOME5")

    taken = await post_shop_promotion(client, seller=other, body=percent_body(code="welcome5"))

    assert_problem(taken, 409, "coupon_code_taken")
    second = await shop_promotion(client, seller=m.seller, code="OTHER5")
    renamed = await client.patch(
        f"{SHOP_PROMOTIONS}/{second['id']}", json={"code": "Welcome5"}, headers=m.seller.headers
    )
    assert_problem(renamed, 409, "coupon_code_taken")


async def test_another_shops_promotion_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    theirs = await shop_promotion(client, seller=other)
    url = f"{SHOP_PROMOTIONS}/{theirs['id']}"

    assert_problem(await client.get(url, headers=m.seller.headers), 404, "not_found")
    assert_problem(
        await client.patch(url, json={"name": "Mine"}, headers=m.seller.headers), 404, "not_found"
    )
    assert_problem(await client.post(f"{url}/end", headers=m.seller.headers), 404, "not_found")
    assert only_page(await client.get(SHOP_PROMOTIONS, headers=m.seller.headers)) == []
    # The platform's promotions are not a shop's either.
    platform = json_ok(
        await client.post("/v1/admin/coupons", json=percent_body(), headers=m.admin.headers),
        201,
    )
    assert_problem(
        await client.get(f"{SHOP_PROMOTIONS}/{platform['id']}", headers=m.seller.headers),
        404,
        "not_found",
    )


async def test_only_a_shop_manages_promotions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    buyer = await buyer_user(client)

    assert_problem(await client.get(SHOP_PROMOTIONS, headers=buyer.headers), 403, "seller_required")
    assert_problem(
        await post_shop_promotion(client, seller=buyer, body=percent_body()), 403, "seller_required"
    )
    assert_problem(await client.get(SHOP_PROMOTIONS), 401, "invalid_token")


async def test_an_integration_with_listing_scopes_manages_promotions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    reader = await integration_of(client, owner=m.seller, scopes=["listings:read"])
    writer = await integration_of(client, owner=m.seller, scopes=["listings:write"])
    shop_reader = await integration_of(client, owner=m.seller, scopes=["shop:read"])

    created = json_ok(await post_shop_promotion(client, seller=writer, body=percent_body()), 201)

    assert only_page(await client.get(SHOP_PROMOTIONS, headers=reader.headers)) == [created]
    assert_problem(
        await post_shop_promotion(client, seller=reader, body=percent_body()),
        403,
        "insufficient_scope",
    )
    assert_problem(
        await client.get(SHOP_PROMOTIONS, headers=shop_reader.headers), 403, "insufficient_scope"
    )
