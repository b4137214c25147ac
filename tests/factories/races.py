"""Builders for the tests of real concurrency (PostgreSQL, `committed_client` and
`committed_database`): every step commits, so nothing is made in a rolled-back session."""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.db import Database
from tests.factories.accounts import LoggedIn, create_user, login, register_and_login
from tests.factories.api import Json, json_ok, new_key
from tests.factories.orders import post_pay

US_ADDRESS: Json = {
    "name": "Grace Hopper",
    "line1": "1 Harbour Street",
    "city": "Arlington",
    "postal_code": "22201",
    "country": "US",
}

PRICE = 2500
SHIPPING_FEE = 499
ORDER_TOTAL = PRICE + SHIPPING_FEE  # one unit per order


@dataclass(frozen=True)
class RaceMarket:
    admin: LoggedIn
    seller: LoggedIn
    seller_id: str
    category_id: str


async def race_market(client: httpx.AsyncClient, database: Database) -> RaceMarket:
    """An admin, one approved seller and a leaf category, all real and committed."""
    async with database.session_scope() as session:
        admin_user = await create_user(session, is_admin=True, display_name="Admin")
    admin = await login(client, email=admin_user.email)
    seller = await register_and_login(client, display_name="Seller")
    applied = await client.post(
        "/v1/sellers",
        json={
            "shop_name": f"Shop {uuid.uuid4().hex[:10]}",
            "description": "Things for racing",
            "legal_name": "Jane Doe",
            "seller_type": "individual",
            "country": "DE",
            "contact_email": "shop@example.com",
            "contact_phone": "+49 30 1234567",
            "payout_account": "DE89370400440532013000",
        },
        headers=seller.headers,
    )
    assert applied.status_code == 201, applied.text
    seller_id: str = applied.json()["id"]
    approved = await client.post(f"/v1/admin/sellers/{seller_id}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    root = await client.post(
        "/v1/admin/categories", json={"name": f"Root {uuid.uuid4().hex[:8]}"}, headers=admin.headers
    )
    assert root.status_code == 201, root.text
    leaf = await client.post(
        "/v1/admin/categories",
        json={"name": f"Leaf {uuid.uuid4().hex[:8]}", "parent_id": root.json()["id"]},
        headers=admin.headers,
    )
    assert leaf.status_code == 201, leaf.text
    return RaceMarket(
        admin=admin, seller=seller, seller_id=seller_id, category_id=leaf.json()["id"]
    )


async def race_listing(client: httpx.AsyncClient, *, market: RaceMarket, quantity: int) -> str:
    """A live listing of the market's seller at PRICE plus SHIPPING_FEE: its id."""
    created = await client.post(
        "/v1/listings",
        json={
            "title": f"Racing item {uuid.uuid4().hex[:6]}",
            "description": "Wanted by many",
            "price": {"amount": PRICE, "currency": "USD"},
            "shipping_fee": {"amount": SHIPPING_FEE, "currency": "USD"},
            "quantity": quantity,
            "condition": "new",
            "category_id": market.category_id,
        },
        headers=market.seller.headers,
    )
    assert created.status_code == 201, created.text
    listing_id: str = created.json()["id"]
    published = await client.post(
        f"/v1/listings/{listing_id}/publish", headers=market.seller.headers
    )
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "active", published.json()
    return listing_id


async def race_buyers(client: httpx.AsyncClient, *, count: int) -> list[LoggedIn]:
    return list(
        await asyncio.gather(
            *(register_and_login(client, display_name=f"Buyer {i}") for i in range(count))
        )
    )


async def post_race_checkout(
    client: httpx.AsyncClient, *, buyer: LoggedIn, items: list[tuple[str, int]]
) -> httpx.Response:
    """A checkout of (listing id, quantity) pairs, with a fresh Idempotency-Key."""
    return await client.post(
        "/v1/checkout",
        json={
            "items": [{"listing_id": lid, "quantity": qty} for lid, qty in items],
            "shipping_address": US_ADDRESS,
        },
        headers={**buyer.headers, "Idempotency-Key": new_key()},
    )


async def race_checkout(client: httpx.AsyncClient, *, buyer: LoggedIn, listing_id: str) -> Json:
    body: Json = json_ok(
        await post_race_checkout(client, buyer=buyer, items=[(listing_id, 1)]), 201
    )
    return body


async def race_shipped_order(
    client: httpx.AsyncClient, *, market: RaceMarket, buyer: LoggedIn, listing_id: str
) -> str:
    """A one-unit order of `listing_id`, paid and shipped; returns the order id."""
    checkout = await race_checkout(client, buyer=buyer, listing_id=listing_id)
    paid = await post_pay(client, who=buyer, checkout_id=checkout["id"])
    assert paid.status_code == 200, paid.text
    order_id: str = paid.json()["orders"][0]["id"]
    shipped = await client.post(
        f"/v1/orders/{order_id}/ship",
        json={"carrier": "sandbox", "tracking_number": "SBX00000001-DELIVERED-0"},
        headers=market.seller.headers,
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    return order_id


async def race_shipped_orders(
    client: httpx.AsyncClient, *, market: RaceMarket, count: int
) -> tuple[list[LoggedIn], list[str]]:
    """`count` buyers, each with a one-unit order of the same listing (of `count` units),
    paid and shipped; the buyers and their order ids, in the same order."""
    listing_id = await race_listing(client, market=market, quantity=count)
    buyers = await race_buyers(client, count=count)
    order_ids = [
        await race_shipped_order(client, market=market, buyer=b, listing_id=listing_id)
        for b in buyers
    ]
    return buyers, order_ids


async def scalar(database: Database, statement: Any) -> Any:
    """One value read in a session of its own (what the committed database now holds)."""
    async with database.session_scope() as session:
        return await session.scalar(statement)


async def count(database: Database, statement: Any) -> int:
    return int(await scalar(database, statement) or 0)
