"""A profile deleted while a listing is being pointed to it, under real concurrency
(PostgreSQL): one of them wins cleanly, and no listing is left pointing at nothing."""

import asyncio

import httpx
import pytest

from app.core.db import Database
from tests.factories.catalog import read_own_listing
from tests.factories.races import race_listing, race_market
from tests.factories.shipping import SHIPPING_PROFILES, create_profile, rate

pytestmark = pytest.mark.postgres_only

ROUNDS = 5


async def test_deleting_a_profile_while_a_listing_takes_it_leaves_no_dangling_pointer(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client = committed_client
    market = await race_market(client, committed_database)
    headers = market.seller.headers

    for round_ in range(ROUNDS):
        profile = await create_profile(
            client, seller=market.seller, rates=[rate("DE", first=500, additional=100)]
        )
        listing_id = await race_listing(client, market=market, quantity=1)
        delete = client.delete(f"{SHIPPING_PROFILES}/{profile['id']}", headers=headers)
        point = client.patch(
            f"/v1/listings/{listing_id}",
            json={"shipping_profile_id": profile["id"]},
            headers=headers,
        )

        # Either request may start first.
        if round_ % 2:
            pointed, deleted = await asyncio.gather(point, delete)
        else:
            deleted, pointed = await asyncio.gather(delete, point)

        outcome = (deleted.status_code, pointed.status_code)
        assert outcome in {(204, 422), (409, 200)}, (deleted.text, pointed.text)
        listing = await read_own_listing(client, seller=market.seller, listing_id=listing_id)
        if outcome == (204, 422):
            assert pointed.json()["code"] == "unknown_shipping_profile"
            assert listing["shipping_profile_id"] is None
        else:
            assert deleted.json()["code"] == "shipping_profile_in_use"
            assert listing["shipping_profile_id"] == profile["id"]
