"""Offers through the HTTP API: listings that take them, offers and the parties' answers."""

from typing import Any

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, new_key, usd
from tests.factories.catalog import create_listing, publish
from tests.factories.orders import ADDRESS, Market

OFFERS = "/v1/offers"


async def offer_listing(
    client: httpx.AsyncClient,
    *,
    market: Market,
    price: int = 2000,
    quantity: int = 3,
    shipping: int = 500,
    floor: int | None = None,
    accepts_offers: bool = True,
) -> Json:
    """A live listing of the market's seller that takes offers (with an offer floor, in USD
    minor units, if given)."""
    extra: dict[str, Any] = {"accepts_offers": accepts_offers}
    if floor is not None:
        extra["offer_floor"] = usd(floor)
    draft = await create_listing(
        client,
        seller=market.seller,
        category_id=market.category_id,
        price=usd(price),
        quantity=quantity,
        shipping_fee=usd(shipping),
        **extra,
    )
    published = await publish(client, seller=market.seller, listing_id=draft["id"])
    assert published["status"] == "active", published
    return published


async def post_offer(
    client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str, amount: int, quantity: int = 1
) -> httpx.Response:
    return await client.post(
        f"/v1/listings/{listing_id}/offers",
        json={"amount": usd(amount), "quantity": quantity},
        headers=who.headers,
    )


async def make_offer(
    client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str, amount: int, quantity: int = 1
) -> Json:
    offer: Json = json_ok(
        await post_offer(client, who=who, listing_id=listing_id, amount=amount, quantity=quantity),
        201,
    )
    return offer


async def post_action(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    offer_id: str,
    action: str,
    amount: int | None = None,
) -> httpx.Response:
    """`accept`, `decline`, `withdraw`, or `counter` with `amount` (USD minor units)."""
    body = None if amount is None else {"amount": usd(amount)}
    return await client.post(f"{OFFERS}/{offer_id}/{action}", json=body, headers=who.headers)


async def act(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    offer_id: str,
    action: str,
    amount: int | None = None,
) -> Json:
    response = await post_action(client, who=who, offer_id=offer_id, action=action, amount=amount)
    offer: Json = json_ok(response)
    return offer


async def get_offer(client: httpx.AsyncClient, *, who: LoggedIn, offer_id: str) -> httpx.Response:
    return await client.get(f"{OFFERS}/{offer_id}", headers=who.headers)


async def post_offer_checkout(
    client: httpx.AsyncClient, *, who: LoggedIn, offer_id: str, key: str | None = None
) -> httpx.Response:
    return await client.post(
        f"{OFFERS}/{offer_id}/checkout",
        json={"shipping_address": ADDRESS},
        headers={**who.headers, "Idempotency-Key": key or new_key()},
    )
