"""A seller deleting their account while buyers check out their listing (PostgreSQL, real
commits on pooled connections, requests interleaved with `asyncio.gather`): either the
deletion wins and no order reaches the closed shop, or an order wins and the deletion is
refused. Never both."""

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from app.core.db import Database
from app.orders.models import Order
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.factories.races import post_race_checkout, race_buyers, race_listing, race_market

pytestmark = pytest.mark.postgres_only

BUYERS = 4
DELAYS = (0.0, 0.005, 0.02, 0.05, 0.1)


async def test_a_shop_closes_with_no_order_or_refuses_with_one(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    outcomes = set()
    for round_ in range(len(DELAYS)):
        market = await race_market(committed_client, committed_database)
        listing_id = await race_listing(committed_client, market=market, quantity=BUYERS)
        buyers = await race_buyers(committed_client, count=BUYERS)

        async def delete(delay: float, headers: dict[str, str]) -> httpx.Response:
            await asyncio.sleep(delay)
            return await committed_client.request(
                "DELETE", "/v1/me", json={"password": DEFAULT_PASSWORD}, headers=headers
            )

        # The deletion starts at once or later and later, so that both sides get to win
        # (which one does is not asserted: only that never both).
        deletion, *checkouts = await asyncio.gather(
            delete(DELAYS[round_], market.seller.headers),
            *(
                post_race_checkout(committed_client, buyer=buyer, items=[(listing_id, 1)])
                for buyer in buyers
            ),
        )

        async with committed_database.session_scope() as session:
            statement = select(func.count()).where(Order.seller_id == market.seller_id)
            orders = int(await session.scalar(statement) or 0)
        sold = sum(response.status_code == 201 for response in checkouts)
        assert orders == sold
        assert {r.status_code for r in checkouts} <= {201, 409}, [r.text for r in checkouts]
        if deletion.status_code == 204:
            assert orders == 0, "an order reached a closed shop"
        else:
            assert deletion.status_code == 409, deletion.text
            assert deletion.json()["code"] == "account_in_use"
            assert orders > 0
        outcomes.add(deletion.status_code)
    assert outcomes <= {204, 409}
