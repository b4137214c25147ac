"""Offers under real concurrency (PostgreSQL, a connection per request): two offers on the
last unit accepted at once reserve it once; an offer accepted twice at once is accepted
once."""

import asyncio

import httpx
import pytest

from app.core.db import Database
from tests.factories.accounts import LoggedIn
from tests.factories.catalog import read_own_listing
from tests.factories.races import RaceMarket, race_buyers, race_listing, race_market

pytestmark = pytest.mark.postgres_only

ROUNDS = 5


async def _negotiable(client: httpx.AsyncClient, market: RaceMarket) -> str:
    listing_id = await race_listing(client, market=market, quantity=1)
    patched = await client.patch(
        f"/v1/listings/{listing_id}",
        json={"accepts_offers": True},
        headers=market.seller.headers,
    )
    assert patched.status_code == 200, patched.text
    return listing_id


async def _offer(client: httpx.AsyncClient, buyer: LoggedIn, listing_id: str) -> str:
    made = await client.post(
        f"/v1/listings/{listing_id}/offers",
        json={"amount": {"amount": 2000, "currency": "USD"}, "quantity": 1},
        headers=buyer.headers,
    )
    assert made.status_code == 201, made.text
    offer_id: str = made.json()["id"]
    return offer_id


async def test_two_offers_on_the_last_unit_accepted_at_once_reserve_it_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client = committed_client
    market = await race_market(client, committed_database)
    for _ in range(ROUNDS):
        listing_id = await _negotiable(client, market)
        first, second = await race_buyers(client, count=2)
        offers = [await _offer(client, b, listing_id) for b in (first, second)]

        answers = await asyncio.gather(
            *(client.post(f"/v1/offers/{o}/accept", headers=market.seller.headers) for o in offers)
        )

        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        # Sold out by the other one: refused as out of stock, or, once the listing reads
        # sold out, as no longer purchasable.
        assert refused.json()["code"] in {"insufficient_stock", "listing_unavailable"}
        listing = await read_own_listing(client, seller=market.seller, listing_id=listing_id)
        assert listing["quantity"] == 0


async def test_one_offer_accepted_twice_at_once_is_accepted_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client = committed_client
    market = await race_market(client, committed_database)
    for _ in range(ROUNDS):
        listing_id = await _negotiable(client, market)
        (buyer,) = await race_buyers(client, count=1)
        offer_id = await _offer(client, buyer, listing_id)

        answers = await asyncio.gather(
            *(
                client.post(f"/v1/offers/{offer_id}/accept", headers=market.seller.headers)
                for _ in range(2)
            )
        )

        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        assert next(a for a in answers if a.status_code == 409).json()["code"] == (
            "invalid_transition"
        )
        listing = await read_own_listing(client, seller=market.seller, listing_id=listing_id)
        assert listing["quantity"] == 0
