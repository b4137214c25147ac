"""A one-use coupon under real concurrency (PostgreSQL): twenty checkouts redeem it at once,
each in its own transaction, and exactly one gets it."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from app.core.db import Database
from app.promotions import service
from app.promotions.exceptions import CouponExhausted
from app.promotions.models import Promotion, PromotionRedemption, PromotionUsage
from app.promotions.pricing import AppliedDiscount, PricedLine
from tests.factories.api import json_ok
from tests.factories.promotions import ADMIN_PROMOTIONS, percent_body
from tests.factories.races import (
    PRICE,
    count,
    race_buyers,
    race_checkout,
    race_listing,
    race_market,
    scalar,
)

pytestmark = pytest.mark.postgres_only

BUYERS = 20


async def test_twenty_buyers_redeem_a_one_use_coupon_and_exactly_one_gets_it(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    listing_id = await race_listing(client, market=market, quantity=BUYERS)
    buyers = await race_buyers(client, count=BUYERS)
    checkouts = [await race_checkout(client, buyer=b, listing_id=listing_id) for b in buyers]
    coupon = json_ok(
        await client.post(
            ADMIN_PROMOTIONS,
            json=percent_body(code="ONLYONE", max_redemptions=1, max_discount=...),
            headers=market.admin.headers,
        ),
        201,
    )
    lines = [
        PricedLine(
            listing_id=uuid.UUID(listing_id),
            seller_id=uuid.UUID(market.seller_id),
            category_id=uuid.UUID(market.category_id),
            amount=PRICE,
        )
    ]
    offered: list[list[AppliedDiscount]] = []
    for buyer in buyers:
        async with database.session_scope() as session:
            offered.append(
                await service.discounts_for(
                    session, buyer_id=uuid.UUID(buyer.user_id), lines=lines, codes=["onlyone"]
                )
            )
    assert {d.amount for discounts in offered for d in discounts} == {PRICE // 10}

    async def redeem(index: int) -> bool:
        (order,) = checkouts[index]["orders"]
        try:
            async with database.session_scope() as session:
                await service.redeem(
                    session,
                    buyer_id=uuid.UUID(buyers[index].user_id),
                    checkout_id=uuid.UUID(checkouts[index]["id"]),
                    discounts=offered[index],
                    order_of_seller={uuid.UUID(market.seller_id): uuid.UUID(order["id"])},
                )
        except CouponExhausted:
            return False
        return True

    outcomes = await asyncio.gather(*(redeem(i) for i in range(BUYERS)))

    assert outcomes.count(True) == 1
    promotion_id = uuid.UUID(coupon["id"])
    assert (
        await scalar(database, select(Promotion.redemptions).where(Promotion.id == promotion_id))
        == 1
    )
    winner = outcomes.index(True)
    (winning_order,) = checkouts[winner]["orders"]
    assert await scalar(
        database,
        select(PromotionRedemption.order_id).where(
            PromotionRedemption.promotion_id == promotion_id
        ),
    ) == uuid.UUID(winning_order["id"])
    assert (
        await count(
            database,
            select(func.count()).where(PromotionRedemption.promotion_id == promotion_id),
        )
        == 1
    )
    assert (
        await scalar(
            database,
            select(func.sum(PromotionUsage.uses)).where(
                PromotionUsage.promotion_id == promotion_id
            ),
        )
        == 1
    )
