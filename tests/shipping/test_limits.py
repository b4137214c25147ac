"""Where combined shipping meets the API's limits: a rate times many units, a return of some
of a line's units, and a destination that is no country."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import MAX_AMOUNT
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.catalog import listing_for_sale
from tests.factories.disputes import post_return
from tests.factories.orders import ADDRESS, confirm, market, pay, post_checkout
from tests.factories.orders import ship as ship_order
from tests.factories.payments import reconcile_ok
from tests.factories.sellers import approved_seller
from tests.factories.shipping import create_profile, listing_on_profile, rate


async def test_a_shipping_charge_never_exceeds_what_one_amount_may_hold(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client,
        seller=m.seller,
        rates=[rate("DE", first=MAX_AMOUNT, additional=MAX_AMOUNT)],
    )
    listing = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=1
    )

    cart = await client.put(
        f"/v1/cart/items/{listing['id']}", json={"quantity": 2}, headers=m.buyer.headers
    )
    refused = await post_checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 2}]
    )

    assert cart.status_code == 200, cart.text
    (group,) = cart.json()["groups"]
    # The charge is capped at MAX_AMOUNT; with the items it is still more than one order may
    # hold, so the cart shows the line as not buyable and counts nothing.
    (line,) = group["lines"]
    assert line["available"] is False
    assert "more than one order" in line["unavailable_reason"]
    assert group["shipping_total"]["amount"] == 0
    assert_problem(refused, 422, "order_too_large")
    stock = json_ok(await client.get(f"/v1/listings/{listing['id']}"))
    assert stock["quantity"] == listing["quantity"]


async def test_a_partial_return_refunds_the_shipping_of_the_units_sent_back(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=500, additional=500)]
    )
    listing = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=1000
    )
    created = json_ok(
        await post_checkout(
            client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 5}]
        ),
        201,
    )
    (order,) = created["orders"]
    assert order["shipping_total"]["amount"] == 2500
    await pay(client, who=m.buyer, checkout_id=created["id"])
    await ship_order(client, who=m.seller, order_id=order["id"])
    completed = await confirm(client, who=m.buyer, order_id=order["id"])
    (line,) = completed["lines"]

    one_back = await post_return(
        client,
        who=m.buyer,
        order=completed,
        reason="damaged",
        items=[{"line_id": line["id"], "quantity": 1}],
    )

    assert one_back.status_code == 201, one_back.text
    # The unit's price and its fifth of the line's 2500 shipping, not all of it.
    assert one_back.json()["refund"]["amount"] == 1000 + 500
    await reconcile_ok(client, admin=m.admin)


async def test_a_destination_must_be_a_country(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("GB", first=500, additional=0)]
    )
    listing = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"]
    )
    address: Json = {**ADDRESS, "country": "UK"}

    cart = await client.get("/v1/cart", params={"country": "UK"}, headers=m.buyer.headers)
    refused = await post_checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}], address=address
    )
    london = await post_checkout(
        client,
        who=m.buyer,
        items=[{"listing_id": listing["id"], "quantity": 1}],
        address={**address, "country": "GB"},
    )

    assert_problem(cart, 422, "validation_error")
    assert_problem(refused, 422, "validation_error")
    assert london.status_code == 201, london.text
    assert london.json()["orders"][0]["shipping_total"]["amount"] == 500


async def test_a_checkout_across_shops_larger_than_one_payment_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    big = MAX_AMOUNT // 2 + 1  # each shop's part fits; together they do not
    first = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=big, shipping=0
    )
    second = await listing_for_sale(
        client, seller=other, category_id=m.category_id, price=big, shipping=0
    )

    refused = await post_checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": first["id"], "quantity": 1},
            {"listing_id": second["id"], "quantity": 1},
        ],
    )

    assert_problem(refused, 422, "order_too_large")
    orders = await client.get("/v1/orders", headers=m.buyer.headers)
    assert orders.json()["items"] == []
