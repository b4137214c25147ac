"""The engine checkout calls, at the service level: `discounts_for` (which discounts a
checkout gets, and why a code is refused), `redeem` (counting uses against the limits, a
share recorded per order) and `release` (a cancelled order gives its use back)."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import clock
from app.promotions import service
from app.promotions.exceptions import CouponExhausted, CouponInvalid, CouponNotApplicable
from app.promotions.models import FundedBy
from app.promotions.pricing import AppliedDiscount, PricedLine
from tests.factories.accounts import LoggedIn, buyer_user
from tests.factories.api import Json, usd
from tests.factories.catalog import create_category, leaf_category, listing_for_sale
from tests.factories.orders import checkout, market
from tests.factories.promotions import (
    line,
    platform_promotion,
    redemptions_of,
    shop_promotion,
    stored_promotion,
    uses_of,
)
from tests.factories.sellers import approved_seller


@dataclass(frozen=True)
class Shops:
    admin: LoggedIn
    buyer: LoggedIn
    seller_a: LoggedIn
    shop_a: str
    seller_b: LoggedIn
    shop_b: str
    root: str
    leaf: str
    other_leaf: str
    a1: Json  # shop A, 3000, in `leaf`
    a2: Json  # shop A, 1000, in `other_leaf`
    b1: Json  # shop B, 2000, in `leaf`

    def lines(self) -> list[PricedLine]:
        return [
            line(self.a1, seller_id=self.shop_a, category_id=self.leaf),
            line(self.a2, seller_id=self.shop_a, category_id=self.other_leaf),
            line(self.b1, seller_id=self.shop_b, category_id=self.leaf),
        ]


async def shops(client: httpx.AsyncClient, session: AsyncSession) -> Shops:
    m = await market(client, session)
    seller_b, shop_b = await approved_seller(client, session, admin=m.admin)
    root = (await create_category(client, admin=m.admin))["id"]
    leaf = await leaf_category(client, admin=m.admin, parent_id=root)
    other_leaf = await leaf_category(client, admin=m.admin)
    a1 = await listing_for_sale(client, seller=m.seller, category_id=leaf, price=3000)
    a2 = await listing_for_sale(client, seller=m.seller, category_id=other_leaf, price=1000)
    b1 = await listing_for_sale(client, seller=seller_b, category_id=leaf, price=2000)
    return Shops(
        m.admin,
        m.buyer,
        m.seller,
        m.seller_id,
        seller_b,
        shop_b,
        root,
        leaf,
        other_leaf,
        a1,
        a2,
        b1,
    )


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


async def discounts(
    session: AsyncSession, s: Shops, *codes: str, buyer: LoggedIn | None = None
) -> list[AppliedDiscount]:
    return await service.discounts_for(
        session, buyer_id=_uuid((buyer or s.buyer).user_id), lines=s.lines(), codes=codes
    )


# --- discounts_for ----------------------------------------------------------------------------


async def test_a_checkout_gets_the_automatic_ones_and_its_codes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shops(client, session)
    shop_auto = await shop_promotion(
        client,
        seller=s.seller_a,
        code=None,
        kind="fixed",
        percent=...,
        max_discount=...,
        amount_off=usd(500),
    )
    await shop_promotion(client, seller=s.seller_a, code=None, percent=5)  # 200: not the best
    coupon = await platform_promotion(
        client, admin=s.admin, code="LEAF10", percent=10, category_ids=[s.root]
    )

    applied = await discounts(session, s, "leaf10")

    assert [(d.promotion_id, d.funded_by, d.seller_id, d.amount) for d in applied] == [
        (_uuid(shop_auto["id"]), FundedBy.shop, _uuid(s.shop_a), 500),
        (_uuid(coupon["id"]), FundedBy.platform, None, 463),
    ]
    a1, a2, b1 = (_uuid(x["id"]) for x in (s.a1, s.a2, s.b1))
    # 500 over A's 3000 and 1000: 375 and 125.
    assert applied[0].per_line == {a1: 375, a2: 125}
    assert applied[0].code is None
    # 10 % of what is left of the lines in `leaf` (a descendant of root): 4625 -> 462.5 -> 463.
    assert applied[1].per_line == {a1: 263, b1: 200}
    assert applied[1].code == "LEAF10"
    assert applied[1].name == coupon["name"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"starts_at": "2036-01-01T00:00:00Z"}, "is not valid yet: it starts at 2036-01-01"),
        ("ended", "has ended"),
    ],
)
async def test_a_code_that_does_not_run_now_is_invalid(
    client: httpx.AsyncClient, session: AsyncSession, given: object, expected: str
) -> None:
    s = await shops(client, session)
    overrides = given if isinstance(given, dict) else {}
    promotion = await platform_promotion(client, admin=s.admin, code="WHEN", **overrides)
    if given == "ended":
        ended = await client.post(
            f"/v1/admin/coupons/{promotion['id']}/end", headers=s.admin.headers
        )
        assert ended.status_code == 200

    with pytest.raises(CouponInvalid) as refused:
        await discounts(session, s, "when")

    assert expected in refused.value.detail


async def test_an_unknown_code_is_invalid(client: httpx.AsyncClient, session: AsyncSession) -> None:
    s = await shops(client, session)

    with pytest.raises(CouponInvalid) as refused:
        await discounts(session, s, "NOPE")

    assert refused.value.detail == "no coupon has the code NOPE"


async def test_a_code_that_does_not_fit_the_items_is_not_applicable(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shops(client, session)
    await platform_promotion(client, admin=s.admin, code="BIGSPEND", min_order_amount=usd(6001))
    await platform_promotion(client, admin=s.admin, code="ELSEWHERE", category_ids=[s.other_leaf])
    await shop_promotion(client, seller=s.seller_b, code="BONLY", listing_ids=[s.b1["id"]])
    outside = await leaf_category(client, admin=s.admin)
    await platform_promotion(client, admin=s.admin, code="OUTSIDE", category_ids=[outside])

    with pytest.raises(CouponNotApplicable) as big:
        await discounts(session, s, "BIGSPEND")
    with pytest.raises(CouponNotApplicable) as nowhere:
        await discounts(session, s, "OUTSIDE")

    assert big.value.detail == (
        "coupon BIGSPEND does not apply: the items it applies to come to 6000, below its "
        "minimum order of 6001 (minor units)"
    )
    assert nowhere.value.detail == (
        "coupon OUTSIDE does not apply: none of the items is one the promotion applies to"
    )
    assert [d.amount for d in await discounts(session, s, "ELSEWHERE", "BONLY")] == [200, 100]


async def test_automatic_promotions_follow_their_window(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.freeze()
    s = await shops(client, session)
    later = clock.now() + timedelta(minutes=5)
    await platform_promotion(client, admin=s.admin, code=None, starts_at=later.isoformat())
    assert await discounts(session, s) == []

    clock.advance(timedelta(minutes=6))

    assert [d.amount for d in await discounts(session, s)] == [600]


# --- redeem and release -----------------------------------------------------------------------


async def two_orders(
    client: httpx.AsyncClient, s: Shops, buyer: LoggedIn
) -> tuple[str, dict[str, str]]:
    """A checkout by `buyer` of the three lines: its id and {shop id: order id}. Made before
    any promotion exists, so that nothing but the test redeems."""
    created = await checkout(
        client,
        who=buyer,
        items=[{"listing_id": x["id"], "quantity": 1} for x in (s.a1, s.a2, s.b1)],
    )
    return created["id"], {order["shop_id"]: order["id"] for order in created["orders"]}


async def redeem(
    session: AsyncSession,
    buyer: LoggedIn,
    checkout_id: str,
    orders: dict[str, str],
    applied: list[AppliedDiscount],
) -> None:
    await service.redeem(
        session,
        buyer_id=_uuid(buyer.user_id),
        checkout_id=_uuid(checkout_id),
        discounts=applied,
        order_of_seller={_uuid(shop): _uuid(order) for shop, order in orders.items()},
    )


async def test_a_checkout_counts_once_and_each_order_keeps_its_share(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shops(client, session)
    checkout_id, orders = await two_orders(client, s, s.buyer)
    coupon = await platform_promotion(
        client, admin=s.admin, code="ONCE", percent=10, max_discount=..., max_redemptions=5
    )
    applied = await discounts(session, s, "ONCE")
    assert [d.amount for d in applied] == [600]

    await redeem(session, s.buyer, checkout_id, orders, applied)

    assert (await stored_promotion(session, coupon["id"])).redemptions == 1
    assert await uses_of(session, coupon["id"], s.buyer.user_id) == 1
    assert await redemptions_of(session, coupon["id"]) == {
        _uuid(orders[s.shop_a]): 400,
        _uuid(orders[s.shop_b]): 200,
    }
    # One use per buyer (the default of a code): the same buyer is refused now.
    with pytest.raises(CouponExhausted) as again:
        await discounts(session, s, "ONCE")
    assert again.value.detail == "you have used coupon ONCE as often as one buyer may (1)"
    # Another buyer is not.
    other = await buyer_user(client)
    assert [d.amount for d in await discounts(session, s, "ONCE", buyer=other)] == [600]


async def test_a_limit_reached_meanwhile_refuses_the_redemption(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shops(client, session)
    other = await buyer_user(client)
    first_checkout, first_orders = await two_orders(client, s, s.buyer)
    second_checkout, second_orders = await two_orders(client, s, other)
    coupon = await platform_promotion(client, admin=s.admin, code="LASTONE", max_redemptions=1)
    # Both buyers were offered it before either checked out.
    first = await discounts(session, s, "LASTONE")
    second = await discounts(session, s, "LASTONE", buyer=other)
    await redeem(session, s.buyer, first_checkout, first_orders, first)

    with pytest.raises(CouponExhausted) as refused:
        async with session.begin_nested():
            await redeem(session, other, second_checkout, second_orders, second)

    assert refused.value.detail == "coupon LASTONE has been used as often as it may be"
    assert (await stored_promotion(session, coupon["id"])).redemptions == 1
    assert await uses_of(session, coupon["id"], other.user_id) == 0
    with pytest.raises(CouponExhausted):
        await discounts(session, s, "LASTONE", buyer=other)


async def test_the_per_buyer_limit_holds_at_redemption_too(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shops(client, session)
    first_checkout, first_orders = await two_orders(client, s, s.buyer)
    second_checkout, second_orders = await two_orders(client, s, s.buyer)
    coupon = await platform_promotion(client, admin=s.admin, code="TWICE", max_per_buyer=2)
    offered = await discounts(session, s, "TWICE")
    await redeem(session, s.buyer, first_checkout, first_orders, offered)
    await redeem(session, s.buyer, second_checkout, second_orders, offered)
    third_checkout, third_orders = await two_orders(client, s, s.buyer)

    with pytest.raises(CouponExhausted) as refused:
        async with session.begin_nested():
            await redeem(session, s.buyer, third_checkout, third_orders, offered)

    assert refused.value.detail == "you have used coupon TWICE as often as one buyer may"
    # The whole redemption was undone, the total count with it.
    assert (await stored_promotion(session, coupon["id"])).redemptions == 2
    assert await uses_of(session, coupon["id"], s.buyer.user_id) == 2


async def test_cancelled_orders_give_the_use_back_once_the_last_one_goes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shops(client, session)
    checkout_id, orders = await two_orders(client, s, s.buyer)
    coupon = await platform_promotion(client, admin=s.admin, code="BACK", max_redemptions=1)
    shop_auto = await shop_promotion(
        client, seller=s.seller_b, code=None, percent=50, max_discount=...
    )
    applied = await discounts(session, s, "BACK")
    assert [d.promotion_id for d in applied] == [_uuid(shop_auto["id"]), _uuid(coupon["id"])]
    await redeem(session, s.buyer, checkout_id, orders, applied)

    await service.release(session, order_id=_uuid(orders[s.shop_a]))

    # Shop B's order still carries the coupon: it stays used.
    assert (await stored_promotion(session, coupon["id"])).redemptions == 1
    assert list(await redemptions_of(session, coupon["id"])) == [_uuid(orders[s.shop_b])]
    with pytest.raises(CouponExhausted):
        await discounts(session, s, "BACK")
    assert (await stored_promotion(session, shop_auto["id"])).redemptions == 1

    await service.release(session, order_id=_uuid(orders[s.shop_b]))

    for promotion in (coupon, shop_auto):
        assert (await stored_promotion(session, promotion["id"])).redemptions == 0
        assert await uses_of(session, promotion["id"], s.buyer.user_id) == 0
        assert await redemptions_of(session, promotion["id"]) == {}
    assert [d.code for d in await discounts(session, s, "BACK")] == [None, "BACK"]
    # Releasing again (or an order without discounts) changes nothing.
    await service.release(session, order_id=_uuid(orders[s.shop_b]))
    assert (await stored_promotion(session, coupon["id"])).redemptions == 0


async def test_an_exhausted_automatic_promotion_is_left_out(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shops(client, session)
    checkout_id, orders = await two_orders(client, s, s.buyer)
    auto = await platform_promotion(client, admin=s.admin, code=None, max_redemptions=1)
    applied = await discounts(session, s)
    assert [d.promotion_id for d in applied] == [_uuid(auto["id"])]
    await redeem(session, s.buyer, checkout_id, orders, applied)

    assert await discounts(session, s, buyer=await buyer_user(client)) == []
