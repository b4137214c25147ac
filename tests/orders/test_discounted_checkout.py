"""Coupons and promotions through checkout, payment, completion and refunds, each kind with
the ledger traced to the cent: who pays a discount (the platform into escrow, or the shop out
of its proceeds), what the commission is taken on, and what a refund takes back."""

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.payments import ledger
from app.payments.models import Account
from tests.factories.accounts import LoggedIn, buyer_user
from tests.factories.api import Json, assert_problem, json_ok, new_key, usd
from tests.factories.catalog import listing_for_sale
from tests.factories.disputes import SHIP_BACK, post_dispute, post_resolve, post_return, step_ok
from tests.factories.orders import (
    ADDRESS,
    CHECKOUT,
    Market,
    confirm,
    market,
    pay,
    post_cancel,
    ship,
)
from tests.factories.promotions import platform_promotion, shop_promotion
from tests.factories.sellers import approved_seller


async def post_checkout(
    client: httpx.AsyncClient, who: LoggedIn, items: list[tuple[str, int]], codes: list[str]
) -> httpx.Response:
    body: Json = {
        "items": [{"listing_id": i, "quantity": q} for i, q in items],
        "shipping_address": ADDRESS,
        "coupon_codes": codes,
    }
    return await client.post(
        CHECKOUT, json=body, headers={**who.headers, "Idempotency-Key": new_key()}
    )


async def _on(session: AsyncSession, account: Account, order_id: str) -> int:
    return await ledger.balance(session, account, "USD", order_id=uuid.UUID(order_id))


async def _seller_got(session: AsyncSession, seller_id: str, order_id: str) -> int:
    return await ledger.balance(
        session,
        Account.seller_available,
        "USD",
        owner_id=uuid.UUID(seller_id),
        order_id=uuid.UUID(order_id),
    )


async def _complete(client: httpx.AsyncClient, m: Market, seller: LoggedIn, order_id: str) -> None:
    await ship(client, who=seller, order_id=order_id)
    await confirm(client, who=m.buyer, order_id=order_id)


async def _reconciled(client: httpx.AsyncClient, m: Market) -> None:
    report: Json = json_ok(await client.get("/v1/admin/ledger/reconcile", headers=m.admin.headers))
    assert report["violations"] == []


async def test_a_platform_coupon_split_over_two_shops_is_paid_by_the_platform(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, other_id = await approved_seller(client, session, admin=m.admin)
    mine = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=3000, shipping=500
    )
    theirs = await listing_for_sale(
        client, seller=other, category_id=m.category_id, price=1000, shipping=0
    )
    coupon = await platform_promotion(client, admin=m.admin, percent=10, max_discount=usd(2000))

    created = json_ok(
        await post_checkout(
            client, m.buyer, [(mine["id"], 1), (theirs["id"], 1)], [coupon["code"].lower()]
        ),
        201,
    )

    # 10 % of the 4000 of goods it reaches: 400, shared by price (3000 : 1000).
    orders = {o["shop_id"]: o for o in created["orders"]}
    a, b = orders[m.seller_id], orders[other_id]
    assert a["discounts"] == [
        {
            "promotion_id": coupon["id"],
            "name": coupon["name"],
            "code": coupon["code"],
            "funded_by": "platform",
            "amount": usd(300),
        }
    ]
    assert (a["discount_total"], a["total"]) == (usd(300), usd(3200))
    assert (b["discount_total"], b["total"]) == (usd(100), usd(900))
    assert a["lines"][0]["discount"] == usd(300)
    assert (created["discount_total"], created["total"]) == (usd(400), usd(4100))
    assert (created["items_total"], created["shipping_total"]) == (usd(4000), usd(500))
    assert created["discounts"] == [{**a["discounts"][0], "amount": usd(400)}]

    await pay(client, who=m.buyer, checkout_id=created["id"])
    # The platform pays its discount into escrow: each shop's escrow holds the full price.
    assert await _on(session, Account.escrow, a["id"]) == 3500
    assert await _on(session, Account.escrow, b["id"]) == 1000
    assert await _on(session, Account.platform_promotions, a["id"]) == -300
    seen = json_ok(await client.get(f"/v1/orders/{a['id']}", headers=m.seller.headers))
    assert (seen["commission"], seen["net_amount"]) == (usd(350), usd(3150))

    await _complete(client, m, m.seller, a["id"])
    await _complete(client, m, other, b["id"])

    # The commission is on the full price (the platform's discount is not the shop's).
    assert await _on(session, Account.platform_commission, a["id"]) == 350
    assert await _seller_got(session, m.seller_id, a["id"]) == 3150
    assert await _on(session, Account.platform_commission, b["id"]) == 100
    assert await _seller_got(session, other_id, b["id"]) == 900
    # The buyer paid 4100; shops got 4050, the platform 450 and spent 400.
    assert 3150 + 900 + 350 + 100 - 300 - 100 == 4100
    await _reconciled(client, m)


async def test_a_shops_automatic_amount_off_comes_off_its_proceeds_and_commission_base(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=2000, shipping=300
    )
    automatic = await shop_promotion(
        client,
        seller=m.seller,
        kind="fixed",
        amount_off=usd(250),
        percent=...,
        max_discount=...,
        code=...,
    )

    cart_line = json_ok(
        await client.put(
            f"/v1/cart/items/{listing['id']}", json={"quantity": 1}, headers=m.buyer.headers
        )
    )
    created = json_ok(await post_checkout(client, m.buyer, [(listing["id"], 1)], []), 201)

    (group,) = cart_line["groups"]
    assert (group["discount_total"], group["subtotal"]) == (usd(250), usd(2050))
    (order,) = created["orders"]
    assert [(d["promotion_id"], d["code"], d["funded_by"]) for d in order["discounts"]] == [
        (automatic["id"], None, "shop")
    ]
    assert order["total"] == usd(2050)
    await pay(client, who=m.buyer, checkout_id=created["id"])
    assert await _on(session, Account.escrow, order["id"]) == 2050
    await _complete(client, m, m.seller, order["id"])

    # Commission: 10 % of 2000 + 300 - 250 = 205.
    assert await _on(session, Account.platform_commission, order["id"]) == 205
    assert await _seller_got(session, m.seller_id, order["id"]) == 1845
    assert await _on(session, Account.platform_promotions, order["id"]) == 0
    await _reconciled(client, m)


async def test_threshold_tiers_take_the_highest_tier_reached(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=6000, quantity=5, shipping=0
    )
    tiers = [
        {"min_subtotal": usd(5000), "discount": usd(500)},
        {"min_subtotal": usd(10000), "discount": usd(1500)},
    ]
    await platform_promotion(
        client,
        admin=m.admin,
        kind="threshold",
        tiers=tiers,
        percent=...,
        max_discount=...,
        code=...,
    )

    one = json_ok(
        await client.put(
            f"/v1/cart/items/{listing['id']}", json={"quantity": 1}, headers=m.buyer.headers
        )
    )
    two = json_ok(
        await client.put(
            f"/v1/cart/items/{listing['id']}", json={"quantity": 2}, headers=m.buyer.headers
        )
    )
    created = json_ok(await post_checkout(client, m.buyer, [(listing["id"], 2)], []), 201)

    assert one["groups"][0]["discount_total"] == usd(500)
    assert two["groups"][0]["discount_total"] == usd(1500)
    (order,) = created["orders"]
    assert (order["discount_total"], order["total"]) == (usd(1500), usd(10500))
    await pay(client, who=m.buyer, checkout_id=created["id"])
    await _complete(client, m, m.seller, order["id"])

    assert await _on(session, Account.platform_commission, order["id"]) == 1200
    assert await _seller_got(session, m.seller_id, order["id"]) == 10800
    assert await _on(session, Account.platform_promotions, order["id"]) == -1500
    await _reconciled(client, m)


async def _discounted_sale(client: httpx.AsyncClient, session: AsyncSession, m: Market) -> Json:
    """Two units at 10.00 with a 10 % platform coupon (the buyer pays 18.00), completed:
    the order."""
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, quantity=5, shipping=0
    )
    coupon = await platform_promotion(client, admin=m.admin, percent=10, max_discount=...)
    created = json_ok(
        await post_checkout(client, m.buyer, [(listing["id"], 2)], [coupon["code"]]), 201
    )
    (order,) = created["orders"]
    assert order["total"] == usd(1800)
    await pay(client, who=m.buyer, checkout_id=created["id"])
    await _complete(client, m, m.seller, order["id"])
    assert await _seller_got(session, m.seller_id, order["id"]) == 1800  # 2000 - 200
    completed: Json = json_ok(
        await client.get(f"/v1/orders/{order['id']}", headers=m.buyer.headers)
    )
    return completed


async def test_a_return_refunds_the_price_less_its_share_of_the_discount(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await _discounted_sale(client, session, m)

    one_unit = [{"line_id": order["lines"][0]["id"], "quantity": 1}]
    asked = json_ok(await post_return(client, who=m.buyer, order=order, items=one_unit), 201)

    assert asked["refund"] == usd(900)


async def test_a_refund_after_a_discounted_sale_takes_back_its_share_of_the_discount(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await _discounted_sale(client, session, m)
    opened = await post_dispute(
        client, who=m.buyer, order_id=order["id"], outcome="partial_refund", amount=900
    )
    assert opened.status_code == 201, opened.text

    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=opened.json()["id"], outcome="partial_refund", amount=900
    )

    # Half of the 1800 paid comes back: the platform returns half its commission (100) and
    # takes back from the shop half of the 200 it paid for the coupon.
    assert resolved.status_code == 200, resolved.text
    assert await _on(session, Account.platform_promotions, order["id"]) == -100
    assert await _on(session, Account.platform_commission, order["id"]) == 100
    assert await _seller_got(session, m.seller_id, order["id"]) == 900
    await _reconciled(client, m)


async def test_a_coupon_is_given_back_when_its_order_is_cancelled_before_shipping(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, quantity=5, shipping=0
    )
    coupon = await platform_promotion(client, admin=m.admin, max_redemptions=1)
    second = await buyer_user(client)
    first = json_ok(
        await post_checkout(client, m.buyer, [(listing["id"], 1)], [coupon["code"]]), 201
    )

    refused = await post_checkout(client, second, [(listing["id"], 1)], [coupon["code"]])
    assert_problem(refused, 409, "coupon_exhausted")
    used = json_ok(await client.get(f"/v1/admin/coupons/{coupon['id']}", headers=m.admin.headers))
    assert used["redemptions"] == 1

    cancelled = await post_cancel(client, who=m.buyer, order_id=first["orders"][0]["id"])
    assert cancelled.status_code == 200, cancelled.text
    again = json_ok(await client.get(f"/v1/admin/coupons/{coupon['id']}", headers=m.admin.headers))
    assert again["redemptions"] == 0
    taken = json_ok(
        await post_checkout(client, second, [(listing["id"], 1)], [coupon["code"]]), 201
    )
    assert taken["discount_total"] == usd(100)


async def test_bad_codes_are_refused_and_nothing_is_bought(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, quantity=5, shipping=0
    )
    refused = await post_checkout(client, m.buyer, [(listing["id"], 1)], ["NOSUCHCODE"])
    assert_problem(refused, 422, "coupon_invalid")
    json_ok(
        await client.put(
            f"/v1/cart/items/{listing['id']}", json={"quantity": 1}, headers=m.buyer.headers
        )
    )
    in_cart = await client.get("/v1/cart", params={"coupon": "NOSUCHCODE"}, headers=m.buyer.headers)
    assert_problem(in_cart, 422, "coupon_invalid")
    seen = json_ok(await client.get(f"/v1/listings/{listing['id']}", headers=m.seller.headers))
    assert seen["quantity"] == 5


async def _free_order(client: httpx.AsyncClient, m: Market) -> Json:
    """A 10.00 listing shipped free, bought with a 100 % platform coupon and paid (the buyer
    is charged nothing): the order."""
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=0
    )
    coupon = await platform_promotion(client, admin=m.admin, percent=100, max_discount=...)
    created = json_ok(
        await post_checkout(client, m.buyer, [(listing["id"], 1)], [coupon["code"]]), 201
    )
    assert created["total"] == usd(0)
    paid = await pay(client, who=m.buyer, checkout_id=created["id"])
    order: Json = paid["orders"][0]
    return order


async def test_an_order_the_platform_paid_in_full_still_pays_the_shop_less_commission(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await _free_order(client, m)

    await _complete(client, m, m.seller, order["id"])

    assert await _on(session, Account.platform_promotions, order["id"]) == -1000
    assert await _on(session, Account.platform_commission, order["id"]) == 100
    assert await _seller_got(session, m.seller_id, order["id"]) == 900
    await _reconciled(client, m)


async def test_a_dispute_about_a_free_order_released_to_the_seller_pays_the_seller(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await _free_order(client, m)
    await ship(client, who=m.seller, order_id=order["id"])
    opened = await post_dispute(client, who=m.buyer, order_id=order["id"])
    assert opened.status_code == 201, opened.text

    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=opened.json()["id"], outcome="release_to_seller"
    )

    assert resolved.status_code == 200, resolved.text
    settled = json_ok(await client.get(f"/v1/orders/{order['id']}", headers=m.buyer.headers))
    assert settled["status"] == "completed"
    assert await _on(session, Account.escrow, order["id"]) == 0
    assert await _seller_got(session, m.seller_id, order["id"]) == 900
    await _reconciled(client, m)


async def test_a_return_of_items_the_buyer_paid_nothing_for_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await _free_order(client, m)
    await _complete(client, m, m.seller, order["id"])
    completed = json_ok(await client.get(f"/v1/orders/{order['id']}", headers=m.buyer.headers))

    refused = await post_return(client, who=m.buyer, order=completed, reason="no_longer_needed")

    assert_problem(refused, 422, "invalid_return_items")


@pytest.mark.parametrize(
    ("returned", "refund", "promotions_after"),
    [
        ("plain", 1000, -500),  # the coupon was not on it: the platform keeps its 500 spent
        ("discounted", 500, 0),  # half price paid: the platform takes its 500 back
    ],
)
async def test_a_return_takes_back_its_own_lines_share_of_commission_and_discount(
    client: httpx.AsyncClient,
    session: AsyncSession,
    returned: str,
    refund: int,
    promotions_after: int,
) -> None:
    m = await market(client, session)
    discounted = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=0
    )
    plain = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=0
    )
    coupon = await platform_promotion(
        client, admin=m.admin, percent=50, max_discount=..., listing_ids=[discounted["id"]]
    )
    created = json_ok(
        await post_checkout(
            client, m.buyer, [(discounted["id"], 1), (plain["id"], 1)], [coupon["code"]]
        ),
        201,
    )
    (order,) = created["orders"]
    assert order["total"] == usd(1500)
    await pay(client, who=m.buyer, checkout_id=created["id"])
    await _complete(client, m, m.seller, order["id"])
    assert await _seller_got(session, m.seller_id, order["id"]) == 1800  # 2000 - 10 %
    completed = json_ok(await client.get(f"/v1/orders/{order['id']}", headers=m.buyer.headers))
    line = next(
        li
        for li in completed["lines"]
        if li["listing_id"] == (plain if returned == "plain" else discounted)["id"]
    )

    asked = json_ok(
        await post_return(
            client,
            who=m.buyer,
            order=completed,
            reason="no_longer_needed",
            items=[{"line_id": line["id"], "quantity": 1}],
        ),
        201,
    )
    await step_ok(client, who=m.seller, return_id=asked["id"], step="approve")
    await step_ok(client, who=m.buyer, return_id=asked["id"], step="ship-back", body=SHIP_BACK)
    await step_ok(client, who=m.seller, return_id=asked["id"], step="receive")

    # Whichever line comes back, the shop keeps the other one's 1000 less its 10 %.
    assert asked["refund"] == usd(refund)
    assert await _on(session, Account.platform_commission, order["id"]) == 100
    assert await _on(session, Account.platform_promotions, order["id"]) == promotions_after
    assert await _seller_got(session, m.seller_id, order["id"]) == 900
    await _reconciled(client, m)
