"""The cart: per buyer, grouped by seller, checked against stock, and honest about listings
that can no longer be bought."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.api import assert_problem, usd
from tests.factories.catalog import PNG_1X1, draft_listing, listing_for_sale, read_listing
from tests.factories.orders import CART, add_to_cart, get_cart, market, put_cart
from tests.factories.sellers import approved_seller


async def test_cart_is_grouped_by_seller_with_subtotals_and_items_can_be_changed_and_removed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, other_id = await approved_seller(client, session, admin=m.admin)
    mug = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=500
    )
    lamp = await listing_for_sale(
        client, seller=other, category_id=m.category_id, price=2500, quantity=3, shipping=300
    )

    assert await get_cart(client, who=m.buyer) == {
        "groups": [],
        "item_count": 0,
        "total": {"amount": 0, "currency": "USD"},
    }
    await add_to_cart(client, who=m.buyer, listing_id=mug["id"], quantity=2)
    cart = await add_to_cart(client, who=m.buyer, listing_id=lamp["id"], quantity=1)

    groups = {g["seller_id"]: g for g in cart["groups"]}
    assert set(groups) == {m.seller_id, other_id}
    mine = groups[m.seller_id]
    assert mine["shop_name"] == mug["seller"]["shop_name"]
    assert mine["lines"] == [
        {
            "listing_id": mug["id"],
            "title": mug["title"],
            "image_url": None,
            "unit_price": {"amount": 1000, "currency": "USD"},
            "shipping_fee": {"amount": 500, "currency": "USD"},
            "quantity": 2,
            "line_total": {"amount": 2 * 1000 + 500, "currency": "USD"},
            "available": True,
            "unavailable_reason": None,
            "in_stock": True,
            "max_quantity": 5,
        }
    ]
    assert mine["subtotal"] == {"amount": 2 * 1000 + 500, "currency": "USD"}
    assert groups[other_id]["subtotal"] == {"amount": 2500 + 300, "currency": "USD"}
    assert cart["total"] == {"amount": 2500 + 2800, "currency": "USD"}
    assert await get_cart(client, who=m.buyer) == cart

    # PUT again sets the quantity (it does not add a second line).
    cart = await add_to_cart(client, who=m.buyer, listing_id=mug["id"], quantity=3)
    groups = {g["seller_id"]: g for g in cart["groups"]}
    assert [line["quantity"] for line in groups[m.seller_id]["lines"]] == [3]
    assert groups[m.seller_id]["subtotal"]["amount"] == 3 * 1000 + 500
    assert cart["total"]["amount"] == 3500 + 2800

    removed = await client.delete(f"{CART}/items/{mug['id']}", headers=m.buyer.headers)
    assert removed.status_code == 204, removed.text
    cart = await get_cart(client, who=m.buyer)
    assert [g["seller_id"] for g in cart["groups"]] == [other_id]
    assert cart["total"]["amount"] == 2800

    # Each buyer has their own cart.
    assert (await get_cart(client, who=m.seller))["groups"] == []


async def test_a_quantity_over_the_stock_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=3)

    assert_problem(
        await put_cart(client, who=m.buyer, listing_id=listing["id"], quantity=4),
        409,
        "insufficient_stock",
    )
    assert (await get_cart(client, who=m.buyer))["groups"] == []

    await add_to_cart(
        client, who=m.buyer, listing_id=listing["id"], quantity=3
    )  # exactly the stock is fine
    assert_problem(
        await put_cart(client, who=m.buyer, listing_id=listing["id"], quantity=4),
        409,
        "insufficient_stock",
    )
    (group,) = (await get_cart(client, who=m.buyer))["groups"]
    assert [line["quantity"] for line in group["lines"]] == [3]


async def test_a_seller_cannot_put_their_own_listing_in_the_cart(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    response = await put_cart(client, who=m.seller, listing_id=listing["id"], quantity=1)

    assert_problem(response, 409, "cannot_buy_own_listing")
    assert (await get_cart(client, who=m.seller))["groups"] == []


async def test_someone_elses_draft_or_an_unknown_listing_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    draft = await draft_listing(client, seller=m.seller, category_id=m.category_id)

    assert_problem(
        await put_cart(client, who=m.buyer, listing_id=draft["id"], quantity=1), 404, "not_found"
    )
    unknown = "018f0000-0000-7000-8000-000000000000"
    assert_problem(
        await put_cart(client, who=m.buyer, listing_id=unknown, quantity=1), 404, "not_found"
    )
    assert (await get_cart(client, who=m.buyer))["groups"] == []


@pytest.mark.parametrize(
    ("change", "reason_mentions", "in_stock"),
    [("pause", "paused", 5), ("sell_out", "sold_out", 0), ("lower_stock", "only 1 left", 1)],
)
async def test_a_line_that_can_no_longer_be_bought_stays_marked_unavailable_and_uncounted(
    client: httpx.AsyncClient,
    session: AsyncSession,
    change: str,
    reason_mentions: str,
    in_stock: int,
) -> None:
    m = await market(client, session)
    kept = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=700, shipping=100
    )
    changing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=500
    )
    await add_to_cart(client, who=m.buyer, listing_id=kept["id"], quantity=1)
    before = await add_to_cart(client, who=m.buyer, listing_id=changing["id"], quantity=2)
    assert before["total"]["amount"] == 800 + 2500

    if change == "pause":
        response = await client.post(
            f"/v1/listings/{changing['id']}/pause", headers=m.seller.headers
        )
    else:
        quantity = 0 if change == "sell_out" else 1
        response = await client.patch(
            f"/v1/listings/{changing['id']}", json={"quantity": quantity}, headers=m.seller.headers
        )
    assert response.status_code == 200, response.text

    cart = await get_cart(client, who=m.buyer)
    (group,) = cart["groups"]
    lines = {line["listing_id"]: line for line in group["lines"]}
    assert set(lines) == {kept["id"], changing["id"]}
    gone = lines[changing["id"]]
    assert gone["available"] is False
    assert reason_mentions in gone["unavailable_reason"]
    assert gone["quantity"] == 2
    assert gone["in_stock"] is (in_stock > 0)
    assert gone["max_quantity"] == in_stock
    assert lines[kept["id"]]["available"] is True
    assert group["subtotal"] == {"amount": 800, "currency": "USD"}
    assert cart["total"] == {"amount": 800, "currency": "USD"}


@pytest.mark.parametrize("quantity", [0, -1, 1001])
async def test_a_quantity_outside_1_to_1000_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession, quantity: int
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, quantity=2000
    )

    body = assert_problem(
        await put_cart(client, who=m.buyer, listing_id=listing["id"], quantity=quantity),
        422,
        "validation_error",
    )

    errors = body["errors"]
    assert isinstance(errors, list)
    assert any("quantity" in error["loc"] for error in errors)
    assert (await get_cart(client, who=m.buyer))["groups"] == []


@pytest.mark.parametrize(("quantity", "status"), [(3.0, 200), ("3", 422), (True, 422), (2.5, 422)])
async def test_a_quantity_is_a_json_integer(
    client: httpx.AsyncClient, session: AsyncSession, quantity: object, status: int
) -> None:
    """3 and 3.0 are the same JSON number (JSON Schema's `integer` admits both: the fuzzer
    sends both); a string, a boolean or a fraction is not an integer."""
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, quantity=10
    )

    response = await client.put(
        f"{CART}/items/{listing['id']}", json={"quantity": quantity}, headers=m.buyer.headers
    )

    assert response.status_code == status, response.text
    lines = [
        line for group in (await get_cart(client, who=m.buyer))["groups"] for line in group["lines"]
    ]
    assert [line["quantity"] for line in lines] == ([3] if status == 200 else [])


async def test_removing_an_item_that_is_not_in_the_cart_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    other_buyer_cart = await add_to_cart(client, who=m.admin, listing_id=listing["id"], quantity=1)
    assert other_buyer_cart["total"]["amount"] == 1500

    response = await client.delete(f"{CART}/items/{listing['id']}", headers=m.buyer.headers)

    assert_problem(response, 404, "not_found")
    # Someone else's cart line with that listing is untouched.
    assert (await get_cart(client, who=m.admin))["total"]["amount"] == 1500


async def test_the_cart_needs_authentication(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(CART), 401, "invalid_token")


async def test_a_cart_group_splits_items_and_shipping_and_a_line_shows_image_total_and_bounds(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    lamp = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=2500, quantity=3, shipping=300
    )
    uploaded = await client.post(
        f"/v1/listings/{lamp['id']}/images",
        files={"file": ("x.png", PNG_1X1, "image/png")},
        headers=m.seller.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    pictured = await read_listing(client, who=m.buyer, listing_id=lamp["id"])
    mug = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=500
    )
    await add_to_cart(client, who=m.buyer, listing_id=lamp["id"], quantity=2)
    cart = await add_to_cart(client, who=m.buyer, listing_id=mug["id"], quantity=1)

    (group,) = cart["groups"]
    assert group["shop_id"] == group["seller_id"] == m.seller_id
    assert group["items_total"] == usd(2 * 2500 + 1000)
    assert group["shipping_total"] == usd(300 + 500)
    assert group["subtotal"] == usd(6000 + 800)
    lines = {line["listing_id"]: line for line in group["lines"]}
    assert lines[lamp["id"]]["image_url"] == pictured["images"][0]["urls"]["thumbnail"]
    assert lines[mug["id"]]["image_url"] is None
    assert lines[lamp["id"]]["line_total"] == usd(2 * 2500 + 300)
    assert (lines[lamp["id"]]["in_stock"], lines[lamp["id"]]["max_quantity"]) == (True, 3)
    assert cart["item_count"] == 3
