"""What review screens need (issue 15): the author's name (erased accounts included), the
reviewed order's items, the reviewed shop, a listing's reviews, and 404 for an unknown
person's reviews."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import me
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.disputes import completed_order
from tests.factories.orders import Market, market
from tests.factories.privacy import deleted
from tests.factories.reviews import write_review

MISSING = "01900000-0000-7000-8000-000000000000"


async def reviewed_by_both(client: httpx.AsyncClient, m: Market) -> tuple[Json, Json, Json]:
    """A completed order both parties reviewed: (order, buyer's review, seller's review)."""
    order = await completed_order(client, market=m)
    by_buyer = await write_review(client, who=m.buyer, order_id=order["id"], rating=5)
    by_seller = await write_review(client, who=m.seller, order_id=order["id"], rating=4)
    return order, by_buyer, by_seller


async def public_review(client: httpx.AsyncClient, review_id: str) -> Json:
    found: Json = json_ok(await client.get(f"/v1/reviews/{review_id}"))
    return found


async def test_a_review_names_its_author_the_reviewed_shop_and_the_items(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order, by_buyer, by_seller = await reviewed_by_both(client, m)
    items = [{"listing_id": line["listing_id"], "title": line["title"]} for line in order["lines"]]
    shop_name = json_ok(await client.get(f"/v1/sellers/{m.seller_id}"))["shop_name"]

    of_shop = await public_review(client, by_buyer["id"])
    assert of_shop["author_display_name"] == (await me(client, who=m.buyer))["display_name"]
    assert of_shop["shop_id"] == m.seller_id
    assert of_shop["shop_name"] == shop_name
    assert of_shop["items"] == items

    of_buyer = await public_review(client, by_seller["id"])
    assert of_buyer["author_display_name"] == (await me(client, who=m.seller))["display_name"]
    assert of_buyer["shop_id"] is None
    assert of_buyer["shop_name"] is None
    assert of_buyer["items"] == items

    await deleted(client, who=m.buyer)
    assert (await public_review(client, by_buyer["id"]))["author_display_name"] == "Deleted user"
    (listed,) = json_ok(await client.get(f"/v1/sellers/{m.seller_id}/reviews"))["items"]
    assert listed["author_display_name"] == "Deleted user"


async def test_a_listings_reviews_are_the_buyers_reviews_of_orders_that_held_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    first_order, first, _ = await reviewed_by_both(client, m)
    listing_id = first_order["lines"][0]["listing_id"]
    other_order, other, _ = await reviewed_by_both(client, m)

    page = json_ok(await client.get(f"/v1/listings/{listing_id}/reviews"))
    assert [r["id"] for r in page["items"]] == [first["id"]]
    assert page["next_cursor"] is None
    (review,) = page["items"]
    assert review["about"] == "seller"
    assert review["published"] is True
    assert review["items"] == [
        {"listing_id": listing_id, "title": first_order["lines"][0]["title"]}
    ]
    other_listing = other_order["lines"][0]["listing_id"]
    other_page = json_ok(
        await client.get(f"/v1/listings/{other_listing}/reviews", params={"limit": 1})
    )
    assert [r["id"] for r in other_page["items"]] == [other["id"]]

    # Unpublished reviews stay out: the buyer alone has written.
    third_order = await completed_order(client, market=m)
    await write_review(client, who=m.buyer, order_id=third_order["id"], rating=3)
    third_listing = third_order["lines"][0]["listing_id"]
    assert json_ok(await client.get(f"/v1/listings/{third_listing}/reviews"))["items"] == []

    assert_problem(await client.get(f"/v1/listings/{MISSING}/reviews"), 404, "not_found")
    assert_problem(
        await client.get(f"/v1/listings/{listing_id}/reviews", params={"sort": "x"}),
        422,
        "validation_error",
    )


async def test_an_unknown_persons_reviews_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _order, _by_buyer, by_seller = await reviewed_by_both(client, m)

    assert_problem(await client.get(f"/v1/users/{MISSING}/reviews"), 404, "not_found")
    found = json_ok(await client.get(f"/v1/users/{m.buyer.user_id}/reviews"))
    assert [r["id"] for r in found["items"]] == [by_seller["id"]]
