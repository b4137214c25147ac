"""Promotions made through the HTTP API (a shop's own, the platform's), and the engine's
inputs (priced lines) built from listings."""

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.promotions.models import Promotion, PromotionRedemption, PromotionUsage
from app.promotions.pricing import PricedLine
from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, usd

SHOP_PROMOTIONS = "/v1/sellers/me/coupons"
ADMIN_PROMOTIONS = "/v1/admin/coupons"


def percent_body(**overrides: Any) -> Json:
    """A valid body: 10 % off, capped at 20.00, with a code unique to this call."""
    body: Json = {
        "name": "Ten percent off",
        "kind": "percent",
        "percent": 10,
        "max_discount": usd(2000),
        "code": f"TEN{uuid.uuid4().hex[:8].upper()}",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


async def post_shop_promotion(
    client: httpx.AsyncClient, *, seller: LoggedIn, body: Json
) -> httpx.Response:
    return await client.post(SHOP_PROMOTIONS, json=body, headers=seller.headers)


async def shop_promotion(client: httpx.AsyncClient, *, seller: LoggedIn, **overrides: Any) -> Json:
    """A promotion of `seller`'s shop: `percent_body` changed by `overrides` (`...` drops a
    field)."""
    created: Json = json_ok(
        await post_shop_promotion(client, seller=seller, body=percent_body(**overrides)), 201
    )
    return created


async def post_platform_promotion(
    client: httpx.AsyncClient, *, admin: LoggedIn, body: Json
) -> httpx.Response:
    return await client.post(ADMIN_PROMOTIONS, json=body, headers=admin.headers)


async def platform_promotion(
    client: httpx.AsyncClient, *, admin: LoggedIn, **overrides: Any
) -> Json:
    created: Json = json_ok(
        await post_platform_promotion(client, admin=admin, body=percent_body(**overrides)), 201
    )
    return created


def line(listing: Json, *, seller_id: str, category_id: str, quantity: int = 1) -> PricedLine:
    """The engine's line for `quantity` units of `listing` (as the API returned it)."""
    return PricedLine(
        listing_id=uuid.UUID(listing["id"]),
        seller_id=uuid.UUID(seller_id),
        category_id=uuid.UUID(category_id),
        amount=listing["price"]["amount"] * quantity,
    )


async def stored_promotion(session: AsyncSession, promotion_id: str | uuid.UUID) -> Promotion:
    """The promotion as the database holds it now (not a stale copy of the session)."""
    statement = (
        select(Promotion)
        .where(Promotion.id == uuid.UUID(str(promotion_id)))
        .execution_options(populate_existing=True)
    )
    promotion = (await session.scalars(statement)).one()
    return promotion


async def uses_of(session: AsyncSession, promotion_id: str | uuid.UUID, buyer_id: str) -> int:
    uses = await session.scalar(
        select(PromotionUsage.uses).where(
            PromotionUsage.promotion_id == uuid.UUID(str(promotion_id)),
            PromotionUsage.buyer_id == uuid.UUID(buyer_id),
        )
    )
    return int(uses or 0)


async def redemptions_of(
    session: AsyncSession, promotion_id: str | uuid.UUID
) -> dict[uuid.UUID, int]:
    """order id -> the share of the discount it carries."""
    rows = await session.execute(
        select(PromotionRedemption.order_id, PromotionRedemption.amount).where(
            PromotionRedemption.promotion_id == uuid.UUID(str(promotion_id))
        )
    )
    return {row.order_id: row.amount for row in rows}
