"""Issue 19, offers: who may make one and on what, one open offer per buyer and listing,
only the parties see it, only the party whose turn it is answers, and the listing's offer
settings (the floor is the seller's secret)."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.db import Database
from tests.core.test_rate_limits import assert_rate_limited, client_of, limited_app
from tests.factories.accounts import buyer_user
from tests.factories.api import assert_problem, json_ok, only_page, usd
from tests.factories.catalog import (
    create_listing,
    get_listing,
    patch_listing,
    publish,
    read_own_listing,
)
from tests.factories.offers import (
    OFFERS,
    act,
    get_offer,
    make_offer,
    offer_listing,
    post_action,
    post_offer,
)
from tests.factories.orders import market


async def test_what_may_be_offered_on(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, price=2000, quantity=3)
    closed = await offer_listing(client, market=m, accepts_offers=False)

    assert_problem(
        await post_offer(client, who=m.buyer, listing_id=closed["id"], amount=1500),
        409,
        "offers_not_accepted",
    )
    assert_problem(
        await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=2000),
        422,
        "offer_not_below_price",
    )
    assert_problem(
        await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500, quantity=4),
        409,
        "insufficient_stock",
    )
    assert_problem(
        await post_offer(client, who=m.seller, listing_id=listing["id"], amount=1500),
        409,
        "cannot_buy_own_listing",
    )
    response = await client.post(
        f"/v1/listings/{listing['id']}/offers",
        json={"amount": {"amount": 1500, "currency": "EUR"}, "quantity": 1},
        headers=m.buyer.headers,
    )
    assert_problem(response, 422, "currency_not_supported")

    first = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500)
    assert_problem(
        await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=1600),
        409,
        "offer_already_open",
    )
    # Another buyer has a thread of their own.
    other = await buyer_user(client)
    await make_offer(client, who=other, listing_id=listing["id"], amount=1600)

    withdrawn = await act(client, who=m.buyer, offer_id=first["id"], action="withdraw")
    assert withdrawn["status"] == "withdrawn"
    again = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1700)
    assert again["status"] == "pending_seller"

    mine = only_page(await client.get(OFFERS, params={"role": "buyer"}, headers=m.buyer.headers))
    assert [o["id"] for o in mine] == [again["id"], first["id"]]
    received = only_page(
        await client.get(
            OFFERS, params={"role": "seller", "status": "pending_seller"}, headers=m.seller.headers
        )
    )
    assert [o["amount"]["amount"] for o in received] == [1700, 1600]
    assert (
        only_page(await client.get(OFFERS, params={"role": "seller"}, headers=m.buyer.headers))
        == []
    )


async def test_only_the_parties_see_an_offer_and_only_whose_turn_it_is_answers(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m)
    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500)

    stranger = await buyer_user(client)
    for who in (stranger, m.admin):
        assert_problem(await get_offer(client, who=who, offer_id=offer["id"]), 404, "not_found")
        for action in ("accept", "decline", "withdraw"):
            response = await post_action(client, who=who, offer_id=offer["id"], action=action)
            assert_problem(response, 404, "not_found")
        assert only_page(await client.get(OFFERS, headers=who.headers)) == []

    # The buyer may not answer their own offer, nor counter it.
    for action, amount in (("accept", None), ("decline", None), ("counter", 1400)):
        response = await post_action(
            client, who=m.buyer, offer_id=offer["id"], action=action, amount=amount
        )
        assert_problem(response, 409, "invalid_transition")
    # A counter at or above the price is pointless.
    assert_problem(
        await post_action(
            client, who=m.seller, offer_id=offer["id"], action="counter", amount=2000
        ),
        422,
        "offer_not_below_price",
    )
    declined = await act(client, who=m.seller, offer_id=offer["id"], action="decline")
    assert declined["status"] == "declined"
    assert declined["allowed_actions"] == []
    for who, action in ((m.seller, "accept"), (m.buyer, "withdraw")):
        response = await post_action(client, who=who, offer_id=offer["id"], action=action)
        assert_problem(response, 409, "invalid_transition")
    assert "Offer declined" in [
        n["title"]
        for n in json_ok(await client.get("/v1/notifications", headers=m.buyer.headers))["items"]
    ]


async def test_acceptance_needs_the_stock(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, quantity=2)
    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500, quantity=2)
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], quantity=1)

    response = await post_action(client, who=m.seller, offer_id=offer["id"], action="accept")
    assert_problem(response, 409, "insufficient_stock")
    unchanged = json_ok(await get_offer(client, who=m.seller, offer_id=offer["id"]))
    assert unchanged["status"] == "pending_seller"
    assert json_ok(await get_listing(client, listing_id=listing["id"]))["quantity"] == 1


async def test_the_offer_settings_of_a_listing_and_the_floor_kept_from_buyers(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    response = await client.post(
        "/v1/listings",
        json={
            "title": "Brass lamp",
            "price": usd(2000),
            "condition": "good",
            "category_id": m.category_id,
            "accepts_offers": True,
            "offer_floor": usd(2000),
        },
        headers=m.seller.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"] == [{"loc": ["body", "offer_floor"], "msg": "must be below the price"}]

    draft = await create_listing(
        client, seller=m.seller, category_id=m.category_id, price=usd(2000)
    )
    assert draft["accepts_offers"] is False
    assert draft["offer_floor"] is None
    patched = await patch_listing(
        client, seller=m.seller, listing_id=draft["id"], accepts_offers=True, offer_floor=usd(1500)
    )
    assert patched["accepts_offers"] is True
    assert patched["offer_floor"] == usd(1500)
    own = await read_own_listing(client, seller=m.seller, listing_id=draft["id"])
    assert own["offer_floor"] == usd(1500)
    # Lowering the price to the floor is refused too.
    response = await client.patch(
        f"/v1/listings/{draft['id']}", json={"price": usd(1500)}, headers=m.seller.headers
    )
    assert_problem(response, 422, "validation_error")
    assert (await publish(client, seller=m.seller, listing_id=draft["id"]))["status"] == "active"
    public = json_ok(await get_listing(client, listing_id=draft["id"]))
    assert public["accepts_offers"] is True
    assert "offer_floor" not in public
    found = json_ok(await client.get("/v1/listings", params={"seller": m.seller_id}))["items"]
    assert [(item["id"], item["accepts_offers"]) for item in found] == [(draft["id"], True)]
    assert all("offer_floor" not in item for item in found)

    cleared = await patch_listing(client, seller=m.seller, listing_id=draft["id"], offer_floor=None)
    assert cleared["offer_floor"] is None


async def test_offers_and_counter_offers_are_rate_limited(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m)
    app = limited_app(settings, database, rate_limit_offers="2/hour")
    async with client_of(app) as limited:
        first = await post_offer(limited, who=m.buyer, listing_id=listing["id"], amount=1500)
        assert first.status_code == 201, first.text
        offer_id = first.json()["id"]
        second = await post_offer(limited, who=m.buyer, listing_id=listing["id"], amount=1600)
        assert_problem(second, 409, "offer_already_open")  # spent a unit all the same
        third = await post_offer(limited, who=m.buyer, listing_id=listing["id"], amount=1700)
        assert_rate_limited(third)
        # Counters are the same rule's; the seller has a budget of their own.
        countered = await post_action(
            limited, who=m.seller, offer_id=offer_id, action="counter", amount=1900
        )
        assert countered.status_code == 200, countered.text
        # Other writes are not the offers' budget.
        assert (
            await post_action(limited, who=m.buyer, offer_id=offer_id, action="decline")
        ).status_code == 200
