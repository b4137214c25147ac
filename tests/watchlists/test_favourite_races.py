"""Twenty buyers favouriting one listing at once, then letting it go at once, each on a
connection of its own (PostgreSQL): the seller's count follows exactly."""

import asyncio

import httpx
import pytest

from app.core.db import Database
from tests.factories.catalog import read_own_listing
from tests.factories.races import race_buyers, race_listing, race_market

pytestmark = pytest.mark.postgres_only

BUYERS = 20


async def test_concurrent_favourites_keep_the_count_exact(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client = committed_client
    market = await race_market(client, committed_database)
    listing_id = await race_listing(client, market=market, quantity=1)
    buyers = await race_buyers(client, count=BUYERS)

    kept = await asyncio.gather(
        *(
            client.post("/v1/me/favourites", json={"listing_id": listing_id}, headers=b.headers)
            for b in buyers
        )
    )
    assert [answer.status_code for answer in kept] == [201] * BUYERS
    seen = await read_own_listing(client, seller=market.seller, listing_id=listing_id)
    assert seen["favourite_count"] == BUYERS

    let_go = await asyncio.gather(
        *(client.delete(f"/v1/me/favourites/{listing_id}", headers=b.headers) for b in buyers)
    )
    assert [answer.status_code for answer in let_go] == [204] * BUYERS
    seen = await read_own_listing(client, seller=market.seller, listing_id=listing_id)
    assert seen["favourite_count"] == 0
