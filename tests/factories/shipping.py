"""Shipping profiles and listings on them, made through the HTTP API as a seller would."""

import uuid
from typing import Any

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, usd
from tests.factories.catalog import listing_for_sale

SHIPPING_PROFILES = "/v1/sellers/me/shipping-profiles"


def rate(*destinations: str, first: int, additional: int, free_over: int | None = None) -> Json:
    """One rate of a profile body, amounts in USD minor units."""
    return {
        "destinations": list(destinations),
        "first_item": usd(first),
        "additional_item": usd(additional),
        "free_over": None if free_over is None else usd(free_over),
    }


def profile_body(*rates: Json, **overrides: Any) -> Json:
    """A profile body with `rates` (one domestic rate for DE when none are given) and a name
    unique to this call."""
    return {
        "name": f"Parcel {uuid.uuid4().hex[:8]}",
        "currency": "USD",
        "rates": list(rates) or [rate("DE", first=500, additional=200)],
        **overrides,
    }


async def post_profile(
    client: httpx.AsyncClient, *, seller: LoggedIn, body: Json
) -> httpx.Response:
    return await client.post(SHIPPING_PROFILES, json=body, headers=seller.headers)


async def create_profile(client: httpx.AsyncClient, *, seller: LoggedIn, rates: list[Json]) -> Json:
    """A new profile of `seller`'s shop with these rates: the 201 body."""
    created: Json = json_ok(
        await post_profile(client, seller=seller, body=profile_body(*rates)), 201
    )
    return created


async def listing_on_profile(
    client: httpx.AsyncClient,
    *,
    seller: LoggedIn,
    category_id: str,
    profile_id: str,
    price: int = 1000,
    quantity: int = 5,
    flat_fee: int = 450,
) -> Json:
    """A listing for sale whose shipping `profile_id` charges (its flat fee, `flat_fee`, is
    then never charged)."""
    listing = await listing_for_sale(
        client,
        seller=seller,
        category_id=category_id,
        price=price,
        quantity=quantity,
        shipping=flat_fee,
    )
    on_profile: Json = json_ok(
        await client.patch(
            f"/v1/listings/{listing['id']}",
            json={"shipping_profile_id": profile_id},
            headers=seller.headers,
        )
    )
    assert on_profile["shipping_profile_id"] == profile_id
    return on_profile
