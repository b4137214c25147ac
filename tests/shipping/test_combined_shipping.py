"""Combined shipping through the API: the cart shows, and checkout charges, each shop's
shipping per destination from its profiles (first item + each additional item, free over a
threshold); a destination a profile does not serve is refused before anything is bought."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.api import Json, assert_problem, json_ok, usd
from tests.factories.catalog import listing_for_sale, read_own_listing
from tests.factories.orders import (
    ADDRESS,
    add_to_cart,
    checkout,
    get_cart,
    get_order,
    list_orders,
    market,
    pay,
    post_checkout,
)
from tests.factories.payments import escrow_of, reconcile_ok
from tests.factories.sellers import approved_seller
from tests.factories.shipping import create_profile, listing_on_profile, rate

PARIS: Json = {**ADDRESS, "city": "Paris", "postal_code": "75001", "country": "FR"}
BOSTON: Json = {**ADDRESS, "city": "Boston", "postal_code": "02108", "country": "US"}


def _fees(order: Json) -> dict[str, int]:
    return {line["listing_id"]: line["shipping_fee"]["amount"] for line in order["lines"]}


async def test_three_units_from_one_shop_pay_the_first_item_and_two_additional_ones(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=500, additional=250)]
    )
    mugs = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=1200
    )
    plate = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=800
    )

    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": mugs["id"], "quantity": 2},
            {"listing_id": plate["id"], "quantity": 1},
        ],
    )

    (order,) = created["orders"]
    assert order["shipping_total"] == usd(500 + 2 * 250)
    # 1000 split 2:1 by units is 666.67 and 333.33: the odd cent goes to the first line.
    assert _fees(order) == {mugs["id"]: 667, plate["id"]: 333}
    assert sum(_fees(order).values()) == order["shipping_total"]["amount"]
    assert order["items_total"] == usd(2 * 1200 + 800)
    assert order["total"] == usd(3200 + 1000)
    assert order["shipping_breakdown"] == [
        {
            "profile_id": profile["id"],
            "profile_name": profile["name"],
            "destination": "DE",
            "listing_ids": [mugs["id"], plate["id"]],
            "units": 3,
            "items_total": usd(3200),
            "first_item": usd(500),
            "additional_item": usd(250),
            "free_over": None,
            "fee": usd(1000),
        }
    ]
    lines = {line["listing_id"]: line for line in order["lines"]}
    assert lines[mugs["id"]]["line_total"] == usd(2 * 1200 + 667)
    assert created["total"] == usd(4200)

    paid = await pay(client, who=m.buyer, checkout_id=created["id"])
    assert paid["total"] == usd(4200)
    assert await escrow_of(session, order_id=order["id"]) == 4200
    shown = await get_order(client, who=m.seller, order_id=order["id"])
    assert shown["shipping_breakdown"] == order["shipping_breakdown"]
    assert _fees(shown) == _fees(order)
    await reconcile_ok(client, admin=m.admin)


async def test_shipping_is_free_once_the_profiles_items_reach_the_threshold(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=500, additional=250, free_over=3000)]
    )
    lamp = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=1500
    )
    await add_to_cart(client, who=m.buyer, listing_id=lamp["id"], quantity=1)
    (below,) = (await get_cart(client, who=m.buyer))["groups"]
    assert below["shipping_total"] == usd(500)
    await add_to_cart(client, who=m.buyer, listing_id=lamp["id"], quantity=2)

    created = await checkout(client, who=m.buyer)

    (order,) = created["orders"]
    assert order["items_total"] == usd(3000)
    assert order["shipping_total"] == usd(0)
    assert _fees(order) == {lamp["id"]: 0}
    (charge,) = order["shipping_breakdown"]
    assert (charge["free_over"], charge["fee"], charge["units"]) == (usd(3000), usd(0), 2)
    await pay(client, who=m.buyer, checkout_id=created["id"])
    assert await escrow_of(session, order_id=order["id"]) == 3000
    await reconcile_ok(client, admin=m.admin)


async def test_a_country_the_profile_does_not_serve_is_refused_and_nothing_is_bought(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", "EU", first=500, additional=250)]
    )
    chair = await listing_on_profile(
        client,
        seller=m.seller,
        category_id=m.category_id,
        profile_id=profile["id"],
        quantity=4,
    )
    # Another shop's listing without a profile ships anywhere: it does not save the checkout.
    poster = await listing_for_sale(client, seller=other, category_id=m.category_id, quantity=3)
    await add_to_cart(client, who=m.buyer, listing_id=chair["id"], quantity=2)
    await add_to_cart(client, who=m.buyer, listing_id=poster["id"], quantity=1)

    response = await post_checkout(client, who=m.buyer, address=BOSTON)

    refused = assert_problem(response, 422, "destination_not_served")
    assert f"'{chair['title']}' is not shipped to US" in str(refused["detail"])
    assert refused["country"] == "US"
    assert refused["listing_ids"] == [chair["id"]]
    assert await list_orders(client, who=m.buyer, role="buyer") == []
    assert (await read_own_listing(client, seller=m.seller, listing_id=chair["id"]))[
        "quantity"
    ] == 4
    assert (await read_own_listing(client, seller=other, listing_id=poster["id"]))["quantity"] == 3
    assert len((await get_cart(client, who=m.buyer))["groups"]) == 2
    # The same cart to an address in the EU goes through.
    json_ok(await post_checkout(client, who=m.buyer, address=PARIS), 201)
    await reconcile_ok(client, admin=m.admin)


async def test_a_country_takes_its_own_rate_else_its_regions_else_everywhere_elses(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client,
        seller=m.seller,
        rates=[
            rate("DE", first=300, additional=100),
            rate("EU", first=800, additional=200),
            rate("*", first=2000, additional=500),
        ],
    )
    vase = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], quantity=9
    )
    expected = {"DE": ("DE", 300 + 100), "FR": ("EU", 800 + 200), "US": ("*", 2000 + 500)}

    for address in (ADDRESS, PARIS, BOSTON):
        created = json_ok(
            await post_checkout(
                client,
                who=m.buyer,
                items=[{"listing_id": vase["id"], "quantity": 2}],
                address=address,
            ),
            201,
        )
        (order,) = created["orders"]
        (charge,) = order["shipping_breakdown"]
        assert (charge["destination"], order["shipping_total"]["amount"]) == expected[
            address["country"]
        ]
        await pay(client, who=m.buyer, checkout_id=created["id"])
    await reconcile_ok(client, admin=m.admin)


async def test_the_cart_for_a_country_shows_what_checkout_to_it_charges(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, other_id = await approved_seller(client, session, admin=m.admin)
    profile = await create_profile(
        client,
        seller=m.seller,
        rates=[rate("DE", first=400, additional=100), rate("EU", first=700, additional=333)],
    )
    domestic_only = await create_profile(
        client, seller=other, rates=[rate("DE", first=200, additional=50)]
    )
    cup = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=900
    )
    jug = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=2100
    )
    flat = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=500, shipping=250
    )
    rug = await listing_on_profile(
        client, seller=other, category_id=m.category_id, profile_id=domestic_only["id"]
    )
    # The jug goes in first, yet the cup (listed first) gets the odd cent, as at checkout.
    for listing, quantity in ((jug, 2), (cup, 2), (flat, 3), (rug, 1)):
        await add_to_cart(client, who=m.buyer, listing_id=listing["id"], quantity=quantity)

    # Without a country: each shop's own (both are in DE), a domestic estimate.
    home = {g["shop_id"]: g for g in (await get_cart(client, who=m.buyer))["groups"]}
    assert {g["shipping_country"] for g in home.values()} == {"DE"}
    assert home[m.seller_id]["shipping_total"] == usd(400 + 3 * 100 + 250)
    assert home[other_id]["shipping_total"] == usd(200)

    cart = json_ok(await client.get("/v1/cart", params={"country": "FR"}, headers=m.buyer.headers))

    groups = {g["shop_id"]: g for g in cart["groups"]}
    mine, theirs = groups[m.seller_id], groups[other_id]
    assert mine["shipping_country"] == theirs["shipping_country"] == "FR"
    # 700 + 3 * 333 = 1699 over 2 + 2 units: 849.5 each, the odd cent to the first listing.
    lines = {line["listing_id"]: line for line in mine["lines"]}
    assert [lines[i]["shipping_fee"]["amount"] for i in (cup["id"], jug["id"], flat["id"])] == [
        850,
        849,
        250,
    ]
    assert mine["shipping_total"] == usd(1699 + 250)
    (charge,) = mine["shipping_breakdown"]
    assert (charge["destination"], charge["units"], charge["fee"]) == ("EU", 4, usd(1699))
    (rug_line,) = theirs["lines"]
    assert rug_line["available"] is False
    assert rug_line["unavailable_reason"] == "not shipped to FR"
    assert theirs["shipping_total"] == theirs["subtotal"] == usd(0)
    assert theirs["shipping_breakdown"] == []
    assert cart["total"] == mine["subtotal"] == usd(2 * 900 + 2 * 2100 + 3 * 500 + 1949)
    assert cart["item_count"] == 7
    # Refused as a whole with the rug; without it, the checkout charges what the cart said.
    assert_problem(
        await post_checkout(client, who=m.buyer, address=PARIS), 422, "destination_not_served"
    )
    await client.delete(f"/v1/cart/items/{rug['id']}", headers=m.buyer.headers)

    created = json_ok(await post_checkout(client, who=m.buyer, address=PARIS), 201)

    (order,) = created["orders"]
    assert order["shipping_total"] == mine["shipping_total"]
    assert order["total"] == mine["subtotal"]
    assert _fees(order) == {i: line["shipping_fee"]["amount"] for i, line in lines.items()}
    assert order["shipping_breakdown"] == mine["shipping_breakdown"]
    await pay(client, who=m.buyer, checkout_id=created["id"])
    await reconcile_ok(client, admin=m.admin)


async def test_a_listing_without_a_profile_keeps_its_flat_fee_per_line(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=600, additional=100)]
    )
    flat = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=450
    )
    profiled = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"], price=700
    )

    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": flat["id"], "quantity": 3},
            {"listing_id": profiled["id"], "quantity": 2},
        ],
    )

    (order,) = created["orders"]
    assert _fees(order) == {flat["id"]: 450, profiled["id"]: 600 + 100}
    assert order["shipping_total"] == usd(450 + 700)
    assert [charge["listing_ids"] for charge in order["shipping_breakdown"]] == [[profiled["id"]]]
    await pay(client, who=m.buyer, checkout_id=created["id"])
    assert await escrow_of(session, order_id=order["id"]) == 3 * 1000 + 2 * 700 + 1150
    await reconcile_ok(client, admin=m.admin)


async def test_orders_keep_the_shipping_they_were_charged_when_the_profile_changes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=500, additional=250)]
    )
    lamp = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"]
    )
    created = await checkout(client, who=m.buyer, items=[{"listing_id": lamp["id"], "quantity": 1}])
    (order,) = created["orders"]

    json_ok(
        await client.put(
            f"/v1/sellers/me/shipping-profiles/{profile['id']}",
            json={
                "name": "Renamed",
                "currency": "USD",
                "rates": [rate("*", first=9000, additional=0)],
            },
            headers=m.seller.headers,
        )
    )

    shown = await get_order(client, who=m.buyer, order_id=order["id"])
    assert shown["shipping_total"] == usd(500)
    assert shown["shipping_breakdown"] == order["shipping_breakdown"]
    assert shown["shipping_breakdown"][0]["profile_name"] == profile["name"]
    await add_to_cart(client, who=m.buyer, listing_id=lamp["id"], quantity=1)
    (group,) = (await get_cart(client, who=m.buyer))["groups"]
    assert group["shipping_total"] == usd(9000)
    await pay(client, who=m.buyer, checkout_id=created["id"])
    await reconcile_ok(client, admin=m.admin)
