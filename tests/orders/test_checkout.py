"""Checkout: one order per seller with snapshots of what was bought, stock reserved
atomically for all items or none, idempotent under one key."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from tests.factories.accounts import register_and_login
from tests.factories.api import assert_problem, new_key, parse_time
from tests.factories.catalog import draft_listing, listing_for_sale, read_listing, search_ids
from tests.factories.orders import (
    ADDRESS,
    CHECKOUT,
    add_to_cart,
    checkout,
    get_cart,
    list_orders,
    market,
    post_checkout,
)
from tests.factories.sellers import approved_seller


async def test_checkout_requires_an_idempotency_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=5)

    response = await client.post(
        CHECKOUT,
        json={"items": [{"listing_id": listing["id"], "quantity": 1}], "shipping_address": ADDRESS},
        headers=m.buyer.headers,
    )

    assert_problem(response, 400, "idempotency_key_required")
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 5
    assert await list_orders(client, who=m.buyer) == []


async def test_checkout_of_a_cart_with_two_sellers_makes_one_order_per_seller(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    other, other_id = await approved_seller(client, session, admin=m.admin)
    mug = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, quantity=5, shipping=500
    )
    plate = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=250, quantity=9, shipping=0
    )
    lamp = await listing_for_sale(
        client, seller=other, category_id=m.category_id, price=4999, quantity=2, shipping=701
    )
    await add_to_cart(client, who=m.buyer, listing_id=mug["id"], quantity=2)
    await add_to_cart(client, who=m.buyer, listing_id=plate["id"], quantity=4)
    await add_to_cart(client, who=m.buyer, listing_id=lamp["id"], quantity=2)
    clock.freeze()
    frozen_at = clock.now()

    created = await checkout(client, who=m.buyer)

    assert parse_time(created["expires_at"]) == frozen_at + settings.payment_expiry
    assert created["paid_at"] is None
    orders = {o["seller_id"]: o for o in created["orders"]}
    assert set(orders) == {m.seller_id, other_id}
    mine, theirs = orders[m.seller_id], orders[other_id]
    assert all(isinstance(line["id"], str) for line in mine["lines"])
    lines = {line["listing_id"]: {**line, "id": None} for line in mine["lines"]}
    assert lines == {
        mug["id"]: {
            "id": None,
            "listing_id": mug["id"],
            "title": mug["title"],
            "image_url": None,
            "unit_price": {"amount": 1000, "currency": "USD"},
            "quantity": 2,
            "shipping_fee": {"amount": 500, "currency": "USD"},
            "line_total": {"amount": 2 * 1000 + 500, "currency": "USD"},
            "discount": {"amount": 0, "currency": "USD"},
            # The buyer sees no commission terms.
            "commission_percent": None,
            "commission_rule_id": None,
        },
        plate["id"]: {
            "id": None,
            "listing_id": plate["id"],
            "title": plate["title"],
            "image_url": None,
            "unit_price": {"amount": 250, "currency": "USD"},
            "quantity": 4,
            "shipping_fee": {"amount": 0, "currency": "USD"},
            "line_total": {"amount": 4 * 250, "currency": "USD"},
            "discount": {"amount": 0, "currency": "USD"},
            "commission_percent": None,
            "commission_rule_id": None,
        },
    }
    assert mine["items_total"] == {"amount": 2 * 1000 + 4 * 250, "currency": "USD"}
    assert mine["shipping_total"] == {"amount": 500, "currency": "USD"}
    assert mine["total"] == {"amount": 3500, "currency": "USD"}
    assert (mine["discounts"], mine["discount_total"]["amount"]) == ([], 0)
    assert mine["protection_fee"]["amount"] == 0  # none by default
    assert [(line["title"], line["quantity"]) for line in theirs["lines"]] == [(lamp["title"], 2)]
    assert theirs["items_total"]["amount"] == 2 * 4999
    assert theirs["shipping_total"]["amount"] == 701
    assert theirs["total"]["amount"] == 9998 + 701
    assert created["total"] == {"amount": 3500 + 10699, "currency": "USD"}
    for order in created["orders"]:
        assert order["status"] == "pending_payment"
        assert order["checkout_id"] == created["id"]
        assert order["buyer_id"] == m.buyer.user_id
        assert order["shipping_address"] == {**ADDRESS, "line2": None, "region": None}
        assert order["paid_at"] is None
        assert order["ship_by"] is None
        assert order["allowed_actions"] == ["cancel", "message"]

    # Stock is reserved; a listing taken to zero sells out and leaves search.
    assert (await read_listing(client, who=m.seller, listing_id=mug["id"]))["quantity"] == 3
    assert (await read_listing(client, who=m.seller, listing_id=plate["id"]))["quantity"] == 5
    sold_out = await read_listing(client, who=other, listing_id=lamp["id"])
    assert (sold_out["quantity"], sold_out["status"]) == (0, "sold_out")
    assert lamp["id"] not in await search_ids(client, seller=other_id)
    assert mug["id"] in await search_ids(client, seller=m.seller_id)
    # Bought items leave the cart; the checkout can be read back.
    assert (await get_cart(client, who=m.buyer))["groups"] == []
    read_back = await client.get(f"/v1/checkouts/{created['id']}", headers=m.buyer.headers)
    assert read_back.status_code == 200, read_back.text
    assert read_back.json() == created


async def test_explicit_items_merge_duplicates_and_leave_the_rest_of_the_cart(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    bought = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1200, quantity=6
    )
    kept = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=300, quantity=2
    )
    await add_to_cart(client, who=m.buyer, listing_id=bought["id"], quantity=1)
    await add_to_cart(client, who=m.buyer, listing_id=kept["id"], quantity=2)

    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": bought["id"], "quantity": 2},
            {"listing_id": bought["id"], "quantity": 3},
        ],
    )

    (order,) = created["orders"]
    (line,) = order["lines"]
    assert (line["listing_id"], line["quantity"]) == (bought["id"], 5)
    assert order["items_total"]["amount"] == 5 * 1200
    # One shipping fee per line, not per duplicate of the request.
    assert order["total"]["amount"] == 6000 + 500
    assert created["total"]["amount"] == 6500
    assert (await read_listing(client, who=m.seller, listing_id=bought["id"]))["quantity"] == 1
    assert (await read_listing(client, who=m.seller, listing_id=kept["id"]))["quantity"] == 2
    (group,) = (await get_cart(client, who=m.buyer))["groups"]
    assert [(li["listing_id"], li["quantity"]) for li in group["lines"]] == [(kept["id"], 2)]


async def test_checkout_of_an_empty_cart_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)

    assert_problem(await post_checkout(client, who=m.buyer), 422, "cart_empty")
    assert await list_orders(client, who=m.buyer) == []


async def test_a_shortfall_on_one_item_rolls_the_whole_checkout_back(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    # Created first, so reserved first (listing-id order): its reservation must be undone.
    plenty = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=5)
    scarce = await listing_for_sale(client, seller=other, category_id=m.category_id, quantity=2)
    await add_to_cart(client, who=m.buyer, listing_id=plenty["id"], quantity=1)
    await add_to_cart(client, who=m.buyer, listing_id=scarce["id"], quantity=2)
    # Someone else buys one of the two while the first buyer hesitates.
    rival = await register_and_login(client)
    await checkout(client, who=rival, items=[{"listing_id": scarce["id"], "quantity": 1}])

    response = await post_checkout(client, who=m.buyer)

    body = assert_problem(response, 409, "insufficient_stock")
    assert body["listing_id"] == scarce["id"]
    assert (await read_listing(client, who=m.seller, listing_id=plenty["id"]))["quantity"] == 5
    assert (await read_listing(client, who=other, listing_id=scarce["id"]))["quantity"] == 1
    assert await list_orders(client, who=m.buyer) == []
    cart = await get_cart(client, who=m.buyer)
    assert sorted(li["listing_id"] for g in cart["groups"] for li in g["lines"]) == sorted(
        [plenty["id"], scarce["id"]]
    )


async def test_explicit_items_over_the_stock_are_refused_and_nothing_is_reserved(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    first = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=4)
    second = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=2)

    response = await post_checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": first["id"], "quantity": 4},
            {"listing_id": second["id"], "quantity": 3},
        ],
    )

    assert_problem(response, 409, "insufficient_stock")
    first_now = await read_listing(client, who=m.seller, listing_id=first["id"])
    assert (first_now["quantity"], first_now["status"]) == (4, "active")
    assert (await read_listing(client, who=m.seller, listing_id=second["id"]))["quantity"] == 2
    assert await list_orders(client, who=m.buyer) == []


@pytest.mark.parametrize(
    ("whose", "status", "code"),
    [("own", 409, "cannot_buy_own_listing"), ("someone_elses_draft", 404, "not_found")],
)
async def test_unbuyable_items_are_refused_at_checkout(
    client: httpx.AsyncClient, session: AsyncSession, whose: str, status: int, code: str
) -> None:
    m = await market(client, session)
    if whose == "own":
        listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    else:
        listing = await draft_listing(client, seller=m.seller, category_id=m.category_id)
    buyer = m.seller if whose == "own" else m.buyer

    response = await post_checkout(
        client, who=buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )

    assert_problem(response, status, code)
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 5


async def test_the_same_key_and_body_replays_the_checkout_and_reserves_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=5)
    items = [{"listing_id": listing["id"], "quantity": 2}]
    key = new_key()

    first = await post_checkout(client, who=m.buyer, items=items, key=key)
    again = await post_checkout(client, who=m.buyer, items=items, key=key)

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 3
    assert len(await list_orders(client, who=m.buyer)) == 1

    other_body = await post_checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}], key=key
    )
    assert_problem(other_body, 422, "idempotency_key_reused")
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 3
    assert len(await list_orders(client, who=m.buyer)) == 1

    # Keys are per user: another buyer's identical key is a different request.
    rival = await register_and_login(client)
    theirs = await post_checkout(client, who=rival, items=items, key=key)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 1


def _address(**changes: Any) -> dict[str, Any]:
    address = dict(ADDRESS)
    for field, value in changes.items():
        if value is None:
            del address[field]
        else:
            address[field] = value
    return address


@pytest.mark.parametrize(
    ("address", "field"),
    [
        (_address(name=None), "name"),
        (_address(line1=""), "line1"),
        (_address(city="x" * 101), "city"),
        (_address(postal_code=None), "postal_code"),
        (_address(country="de"), "country"),
        (_address(country="DEU"), "country"),
        (_address(phone="call me"), "phone"),
        (_address(role="admin"), "role"),
    ],
    ids=[
        "no-name",
        "empty-line1",
        "long-city",
        "no-postal-code",
        "lowercase-country",
        "alpha3-country",
        "bad-phone",
        "unknown-field",
    ],
)
async def test_an_invalid_shipping_address_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession, address: dict[str, Any], field: str
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=5)

    response = await post_checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}], address=address
    )

    body = assert_problem(response, 422, "validation_error")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert any(field in error["loc"] for error in errors), errors
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 5


async def test_a_checkout_without_a_shipping_address_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    response = await client.post(
        CHECKOUT,
        json={"items": [{"listing_id": listing["id"], "quantity": 1}]},
        headers={**m.buyer.headers, "Idempotency-Key": new_key()},
    )

    assert_problem(response, 422, "validation_error")
    assert await list_orders(client, who=m.buyer) == []


async def test_checkout_from_the_cart_buys_the_available_lines_and_keeps_the_rest(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """CheckoutCreate: "Buys `items` if given, else everything available in the cart"."""
    m = await market(client, session)
    available = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=800, quantity=3
    )
    paused = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=3)
    await add_to_cart(client, who=m.buyer, listing_id=available["id"], quantity=1)
    await add_to_cart(client, who=m.buyer, listing_id=paused["id"], quantity=1)
    response = await client.post(f"/v1/listings/{paused['id']}/pause", headers=m.seller.headers)
    assert response.status_code == 200, response.text

    created = await checkout(client, who=m.buyer)

    (order,) = created["orders"]
    assert [line["listing_id"] for line in order["lines"]] == [available["id"]]
    assert created["total"]["amount"] == 800 + 500
    (group,) = (await get_cart(client, who=m.buyer))["groups"]
    assert [(li["listing_id"], li["available"]) for li in group["lines"]] == [(paused["id"], False)]
    assert (await read_listing(client, who=m.seller, listing_id=paused["id"]))["quantity"] == 3


async def test_an_order_keeps_its_snapshot_when_the_listing_changes_later(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=500
    )
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    order_id = created["orders"][0]["id"]

    edited = await client.patch(
        f"/v1/listings/{listing['id']}",
        json={"title": "Renamed camera", "price": {"amount": 9999, "currency": "USD"}},
        headers=m.seller.headers,
    )
    assert edited.status_code == 200, edited.text

    order = await client.get(f"/v1/orders/{order_id}", headers=m.buyer.headers)
    assert order.status_code == 200, order.text
    (line,) = order.json()["lines"]
    assert (line["title"], line["unit_price"]["amount"], line["shipping_fee"]["amount"]) == (
        listing["title"],
        1000,
        500,
    )
    assert order.json()["total"]["amount"] == 1500
