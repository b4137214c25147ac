"""Statement budgets (issue 16): how many SQL statements the hot requests may send, counted
with SQLAlchemy's cursor events (never timed). A request that needs more fails here, so a
change that adds a query per line, per order or per image is seen at once.

Checkout and pay cost the same whatever the cart holds: one budget serves every size. Before
issue 16 they grew with it — checkout of (lines, shops) (1, 1): 22, (5, 5): 66, (20, 5): 141;
pay of 1 order 22, of 5 orders 50. Pay's 16, statement by statement: the caller; the
checkout with its orders and lines, locked (one joined query); the Idempotency-Key claimed
and, at the end, its response stored; the provider's record of the charge; the ledger's
transaction and its entries; the orders' timeline entries, their update, the checkout's
update and the events (one insert each); the events' notification recipients, their
notifications and their notification mail (one insert, issue 17); the shops' webhook
subscriptions; and the conversations of the orders for their screen (paid orders cannot
have had a return or a dispute, so that provider asks nothing:
tests/disputes/test_never_contested.py)."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user, buyer_user
from tests.factories.api import Json, json_ok, new_key
from tests.factories.catalog import listing_for_sale, nested_leaf_category
from tests.factories.orders import ADDRESS
from tests.factories.sellers import approved_seller
from tests.factories.statements import statements_sent

# Measured on 2026-12-07, the same on SQLite and PostgreSQL (transaction control aside).
# POST /v1/checkout, any number of lines and shops: 14 until issue 19, +1 for the commission
# rules in force, +1 for the promotions that could apply (automatic ones, and codes given).
CHECKOUT_BUDGET = 16
# POST /v1/checkouts/{id}/pay, any number of orders: 15 until issue 17, +1 for the one
# batched INSERT INTO mail_messages of the sellers' `order.paid` mail.
PAY_BUDGET = 16
CART_SIZES = [(1, 1), (5, 5), (20, 5)]  # (lines, shops)
ORDER_BUDGET = 4  # GET /v1/orders/{id}, the buyer of a paid order
SEARCH_BUDGET = 3  # GET /v1/listings?q=..., the first page (with its count)
LISTING_BUDGET = 2  # GET /v1/listings/{id} (a signed-in buyer: the token, the page)


async def _cart(
    client: httpx.AsyncClient, session: AsyncSession, *, lines: int, shops: int
) -> tuple[LoggedIn, list[Json]]:
    admin = await admin_user(client, session)
    category_id = await nested_leaf_category(client, admin=admin)
    sellers = [(await approved_seller(client, session, admin=admin))[0] for _ in range(shops)]
    listings = [
        await listing_for_sale(client, seller=sellers[i % shops], category_id=category_id)
        for i in range(lines)
    ]
    return await buyer_user(client), listings


@pytest.mark.parametrize(("lines", "shops"), CART_SIZES)
async def test_checkout_and_pay_stay_within_their_budgets(
    client: httpx.AsyncClient, session: AsyncSession, lines: int, shops: int
) -> None:
    buyer, listings = await _cart(client, session, lines=lines, shops=shops)
    items = [{"listing_id": listing["id"], "quantity": 1} for listing in listings]

    async with statements_sent(session) as checkout_statements:
        created = json_ok(
            await client.post(
                "/v1/checkout",
                json={"items": items, "shipping_address": ADDRESS},
                headers={**buyer.headers, "Idempotency-Key": new_key()},
            ),
            201,
        )
    assert len(created["orders"]) == shops
    async with statements_sent(session) as pay_statements:
        json_ok(
            await client.post(
                f"/v1/checkouts/{created['id']}/pay",
                json={"payment_token": "tok_success"},
                headers={**buyer.headers, "Idempotency-Key": new_key()},
            )
        )
    assert len(checkout_statements) <= CHECKOUT_BUDGET, checkout_statements
    assert len(pay_statements) <= PAY_BUDGET, pay_statements


async def test_reads_stay_within_their_budgets(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    buyer, (listing,) = await _cart(client, session, lines=1, shops=1)
    created = json_ok(
        await client.post(
            "/v1/checkout",
            json={
                "items": [{"listing_id": listing["id"], "quantity": 1}],
                "shipping_address": ADDRESS,
            },
            headers={**buyer.headers, "Idempotency-Key": new_key()},
        ),
        201,
    )
    (order,) = created["orders"]
    word = listing["title"].split()[-1]
    for path, params, budget in (
        (f"/v1/orders/{order['id']}", {}, ORDER_BUDGET),
        ("/v1/listings", {"q": word}, SEARCH_BUDGET),
        (f"/v1/listings/{listing['id']}", {}, LISTING_BUDGET),
    ):
        async with statements_sent(session) as sent:
            json_ok(await client.get(path, params=params, headers=buyer.headers))
        assert len(sent) <= budget, (path, sent)
