"""The buyer protection fee and a category commission rule on one order, every amount traced
from the checkout through the ledger to the seller's net, and what refunds do to each."""

import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.payments import ledger
from app.payments.models import Account
from tests.factories.api import Json, json_ok
from tests.factories.catalog import create_category, leaf_category, listing_for_sale
from tests.factories.disputes import post_dispute, post_resolve
from tests.factories.orders import Market, checkout, confirm, market, pay, post_cancel, ship
from tests.factories.payments import reconcile_ok

RULES = "/v1/admin/commission-rules"


@pytest.fixture
def protected(app: FastAPI) -> Iterator[Settings]:
    """The app charging a protection fee of 5 % + 0.70 (for one test)."""
    usual: Settings = app.state.settings
    charging = usual.model_copy(
        update={"buyer_protection_percent": Decimal(5), "buyer_protection_fixed": 70}
    )
    app.state.settings = charging
    yield charging
    app.state.settings = usual


async def _on(session: AsyncSession, account: Account, order_id: str) -> int:
    return await ledger.balance(session, account, "USD", order_id=uuid.UUID(order_id))


async def _order_of_two_lines(client: httpx.AsyncClient, m: Market) -> Json:
    """Under a category whose parent has an 8 % rule: 2 x 19.99 with 5.00 flat shipping and
    1 x 12.50 shipped free, checked out (not paid)."""
    root = await create_category(client, admin=m.admin)
    leaf = await leaf_category(client, admin=m.admin, parent_id=root["id"])
    json_ok(
        await client.post(
            RULES, json={"category_id": root["id"], "percent": 8}, headers=m.admin.headers
        ),
        201,
    )
    mug = await listing_for_sale(
        client, seller=m.seller, category_id=leaf, price=1999, quantity=5, shipping=500
    )
    plate = await listing_for_sale(
        client, seller=m.seller, category_id=leaf, price=1250, quantity=5, shipping=0
    )
    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": mug["id"], "quantity": 2},
            {"listing_id": plate["id"], "quantity": 1},
        ],
    )
    return created


async def test_fee_and_category_commission_are_traced_to_the_cent(
    client: httpx.AsyncClient, session: AsyncSession, protected: Settings
) -> None:
    m = await market(client, session)

    created = await _order_of_two_lines(client, m)
    (order,) = created["orders"]

    # Goods: 2 x 1999 + 1250 = 5248, shipping 500: 5748. Fee: 5 % of 5748 = 287.4 -> 287,
    # plus 70 = 357. The buyer pays 6105.
    assert order["items_total"]["amount"] == 5248
    assert order["shipping_total"]["amount"] == 500
    assert order["discount_total"]["amount"] == 0
    assert order["protection_fee"] == {"amount": 357, "currency": "USD"}
    assert order["total"]["amount"] == 6105
    assert created["protection_fee"]["amount"] == 357
    assert created["total"]["amount"] == 6105
    assert order["commission"] is None  # the buyer's view

    paid = await pay(client, who=m.buyer, checkout_id=created["id"])
    order_id = paid["orders"][0]["id"]
    assert await _on(session, Account.escrow, order_id) == 6105

    seen: Json = json_ok(await client.get(f"/v1/orders/{order_id}", headers=m.seller.headers))
    # Commission: 8 % of (3998 + 500) + 8 % of 1250 = 459.84 -> 460; the fee is not the
    # shop's, so its net is 5748 - 460 = 5288.
    assert [line["commission_percent"] for line in seen["lines"]] == [8.0, 8.0]
    assert seen["commission"]["amount"] == 460
    assert seen["net_amount"]["amount"] == 5288

    await ship(client, who=m.seller, order_id=order_id)
    await confirm(client, who=m.buyer, order_id=order_id)

    assert await _on(session, Account.escrow, order_id) == 0
    assert await _on(session, Account.platform_fees, order_id) == 357
    assert await _on(session, Account.platform_commission, order_id) == 460
    seller_id = uuid.UUID(m.seller_id)
    assert (
        await ledger.balance(
            session,
            Account.seller_available,
            "USD",
            owner_id=seller_id,
            order_id=uuid.UUID(order_id),
        )
        == 5288
    )
    assert 357 + 460 + 5288 == 6105
    await reconcile_ok(client, admin=m.admin)


async def test_a_full_refund_gives_the_fee_back(
    client: httpx.AsyncClient, session: AsyncSession, protected: Settings
) -> None:
    m = await market(client, session)
    created = await _order_of_two_lines(client, m)
    paid = await pay(client, who=m.buyer, checkout_id=created["id"])
    order_id = paid["orders"][0]["id"]

    cancelled = await post_cancel(client, who=m.seller, order_id=order_id)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refunded"]["amount"] == 6105
    assert await _on(session, Account.escrow, order_id) == 0
    assert await _on(session, Account.platform_fees, order_id) == 0
    assert await _on(session, Account.platform_commission, order_id) == 0
    await reconcile_ok(client, admin=m.admin)


async def test_a_partial_refund_keeps_the_fee_and_shrinks_the_commission(
    client: httpx.AsyncClient, session: AsyncSession, protected: Settings
) -> None:
    m = await market(client, session)
    created = await _order_of_two_lines(client, m)
    paid = await pay(client, who=m.buyer, checkout_id=created["id"])
    order_id = paid["orders"][0]["id"]
    await ship(client, who=m.seller, order_id=order_id)
    opened = await post_dispute(
        client, who=m.buyer, order_id=order_id, outcome="partial_refund", amount=1748
    )
    assert opened.status_code == 201, opened.text

    resolved = await post_resolve(
        client,
        admin=m.admin,
        dispute_id=opened.json()["id"],
        outcome="partial_refund",
        amount=1748,
    )

    assert resolved.status_code == 200, resolved.text
    # 1748 of the 5748 paid for the goods comes back: 4000 stay. Commission on them:
    # 459.84 * 4000 / 5748 = 320 (rounded); the fee stays the platform's.
    assert await _on(session, Account.escrow, order_id) == 0
    assert await _on(session, Account.platform_fees, order_id) == 357
    assert await _on(session, Account.platform_commission, order_id) == 320
    seller_id = uuid.UUID(m.seller_id)
    net = await ledger.balance(
        session, Account.seller_available, "USD", owner_id=seller_id, order_id=uuid.UUID(order_id)
    )
    assert net == 4000 - 320
    seen: Json = json_ok(await client.get(f"/v1/orders/{order_id}", headers=m.seller.headers))
    assert (seen["refunded"]["amount"], seen["commission"]["amount"]) == (1748, 320)
    assert seen["net_amount"]["amount"] == 3680
    await reconcile_ok(client, admin=m.admin)


async def test_a_cart_line_whose_fee_would_pass_the_largest_amount_is_refused_not_a_500(
    client: httpx.AsyncClient, session: AsyncSession, protected: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=10**12, quantity=2, shipping=0
    )

    refused = await client.put(
        f"/v1/cart/items/{listing['id']}", json={"quantity": 1}, headers=m.buyer.headers
    )

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "order_too_large"
