"""Combined shipping costs checkout one statement, whatever the cart holds: the profiles of
its listings with their rates, read together in one joined query (none when no listing has a
profile, so tests/test_statement_budgets.py's budget holds as it was)."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.api import json_ok, new_key
from tests.factories.orders import ADDRESS, market
from tests.factories.sellers import approved_seller
from tests.factories.shipping import create_profile, listing_on_profile, rate
from tests.factories.statements import statements_sent
from tests.test_statement_budgets import CHECKOUT_BUDGET

PROFILED_CHECKOUT_BUDGET = CHECKOUT_BUDGET + 1


async def test_checkout_with_profiles_costs_one_statement_more_whatever_its_size(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    items = []
    for seller in (m.seller, other):
        for _ in range(2):
            profile = await create_profile(
                client, seller=seller, rates=[rate("DE", first=500, additional=100)]
            )
            for _ in range(2):
                listing = await listing_on_profile(
                    client, seller=seller, category_id=m.category_id, profile_id=profile["id"]
                )
                items.append({"listing_id": listing["id"], "quantity": 2})

    async with statements_sent(session) as sent:
        created = json_ok(
            await client.post(
                "/v1/checkout",
                json={"items": items, "shipping_address": ADDRESS},
                headers={**m.buyer.headers, "Idempotency-Key": new_key()},
            ),
            201,
        )

    assert [len(order["shipping_breakdown"]) for order in created["orders"]] == [2, 2]
    assert len(sent) <= PROFILED_CHECKOUT_BUDGET, sent
