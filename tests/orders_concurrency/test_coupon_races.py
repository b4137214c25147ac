"""A one-use coupon wanted by twenty buyers at once, each checking out for real on its own
connection (PostgreSQL): exactly one checkout gets it, the others are refused whole, with no
stock taken and no order left behind."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from app.core.db import Database
from app.orders.models import Order
from app.promotions.models import Promotion, PromotionRedemption
from tests.factories.api import Json, json_ok, new_key, usd
from tests.factories.races import US_ADDRESS, count, race_buyers, race_listing, race_market, scalar

pytestmark = pytest.mark.postgres_only

BUYERS = 20


async def test_twenty_buyers_racing_for_a_one_use_coupon_give_it_to_exactly_one(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    client = committed_client
    market = await race_market(client, committed_database)
    listing_id = await race_listing(client, market=market, quantity=BUYERS)
    coupon: Json = json_ok(
        await client.post(
            "/v1/admin/coupons",
            json={
                "name": "First come",
                "kind": "fixed",
                "amount_off": usd(500),
                "code": "ONLYONE",
                "max_redemptions": 1,
            },
            headers=market.admin.headers,
        ),
        201,
    )
    buyers = await race_buyers(client, count=BUYERS)

    answers = await asyncio.gather(
        *(
            client.post(
                "/v1/checkout",
                json={
                    "items": [{"listing_id": listing_id, "quantity": 1}],
                    "shipping_address": US_ADDRESS,
                    "coupon_codes": ["onlyone"],
                },
                headers={**buyer.headers, "Idempotency-Key": new_key()},
            )
            for buyer in buyers
        )
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (BUYERS - 1), [
        a.text for a in answers if a.status_code >= 500
    ]
    assert all(a.json()["code"] == "coupon_exhausted" for a in answers if a.status_code == 409)
    (won,) = [a.json() for a in answers if a.status_code == 201]
    assert won["discount_total"] == usd(500)
    assert (
        await scalar(
            committed_database,
            select(Promotion.redemptions).where(Promotion.id == uuid.UUID(coupon["id"])),
        )
        == 1
    )
    assert (
        await count(committed_database, select(func.count()).select_from(PromotionRedemption)) == 1
    )
    listing: Json = json_ok(await client.get(f"/v1/listings/{listing_id}"))
    assert listing["quantity"] == BUYERS - 1
    assert await scalar(committed_database, select(func.count()).select_from(Order)) == 1
