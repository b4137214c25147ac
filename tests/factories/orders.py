"""The market of a test (an admin, a seller with a category to list in, a buyer), the cart,
checkout and payment, and orders through their life. Everything goes through the HTTP API."""

import dataclasses
from dataclasses import dataclass
from typing import TypedDict

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user, buyer_user, relogin
from tests.factories.api import Json, json_ok, new_key, only_page
from tests.factories.catalog import listing_for_sale, nested_leaf_category
from tests.factories.sellers import GOOD_IBAN, approved_seller

CART = "/v1/cart"
CHECKOUT = "/v1/checkout"
ORDERS = "/v1/orders"

ADDRESS: Json = {
    "name": "Grace Hopper",
    "line1": "1 Harbour Street",
    "city": "Hamburg",
    "postal_code": "20095",
    "country": "DE",
    "phone": "+49 40 123456",
}


@dataclass(frozen=True)
class Market:
    """An admin, one approved seller with a leaf category to list in, and a buyer."""

    admin: LoggedIn
    seller: LoggedIn
    seller_id: str
    category_id: str
    buyer: LoggedIn


async def market(
    client: httpx.AsyncClient, session: AsyncSession, *, payout_account: str = GOOD_IBAN
) -> Market:
    the_admin = await admin_user(client, session)
    seller, seller_id = await approved_seller(
        client, session, admin=the_admin, payout_account=payout_account
    )
    category_id = await nested_leaf_category(client, admin=the_admin)
    return Market(the_admin, seller, seller_id, category_id, await buyer_user(client))


async def relogin_market(client: httpx.AsyncClient, *, market: Market) -> Market:
    """The same cast with fresh tokens, for after the clock moved past their lifetime."""
    return dataclasses.replace(
        market,
        admin=await relogin(client, who=market.admin),
        seller=await relogin(client, who=market.seller),
        buyer=await relogin(client, who=market.buyer),
    )


# --- cart, checkout, payment ------------------------------------------------------------------


async def put_cart(
    client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str, quantity: int
) -> httpx.Response:
    return await client.put(
        f"{CART}/items/{listing_id}", json={"quantity": quantity}, headers=who.headers
    )


async def add_to_cart(
    client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str, quantity: int
) -> Json:
    cart: Json = json_ok(await put_cart(client, who=who, listing_id=listing_id, quantity=quantity))
    return cart


async def get_cart(client: httpx.AsyncClient, *, who: LoggedIn) -> Json:
    cart: Json = json_ok(await client.get(CART, headers=who.headers))
    return cart


async def post_checkout(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    items: list[Json] | None = None,
    key: str | None = None,
    address: Json | None = None,
) -> httpx.Response:
    body: Json = {"shipping_address": address or ADDRESS}
    if items is not None:
        body["items"] = items
    return await client.post(
        CHECKOUT, json=body, headers={**who.headers, "Idempotency-Key": key or new_key()}
    )


async def checkout(
    client: httpx.AsyncClient, *, who: LoggedIn, items: list[Json] | None = None
) -> Json:
    """A checkout of `items` (or of the cart), with a fresh Idempotency-Key; 201."""
    created: Json = json_ok(await post_checkout(client, who=who, items=items), 201)
    assert created["status"] == "pending_payment"
    return created


async def post_pay(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    checkout_id: str,
    token: str = "tok_success",
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"/v1/checkouts/{checkout_id}/pay",
        json={"payment_token": token},
        headers={**who.headers, "Idempotency-Key": key or new_key()},
    )


async def pay(
    client: httpx.AsyncClient, *, who: LoggedIn, checkout_id: str, token: str = "tok_success"
) -> Json:
    """Pays the checkout; every order becomes `paid`."""
    paid: Json = json_ok(await post_pay(client, who=who, checkout_id=checkout_id, token=token))
    assert paid["status"] == "paid"
    assert all(o["status"] == "paid" for o in paid["orders"])
    return paid


async def get_checkout(client: httpx.AsyncClient, *, who: LoggedIn, checkout_id: str) -> Json:
    found: Json = json_ok(await client.get(f"/v1/checkouts/{checkout_id}", headers=who.headers))
    return found


async def unpaid_order(client: httpx.AsyncClient, *, market: Market) -> Json:
    """A checkout by the market's buyer of a fresh listing of its seller, not paid (it emits
    `order.created`): the order, with its `checkout_id`."""
    listing = await listing_for_sale(client, seller=market.seller, category_id=market.category_id)
    created = await checkout(
        client, who=market.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    (order,) = created["orders"]
    assert order["paid_at"] is None
    result: Json = {**order, "checkout_id": created["id"]}
    return result


class OrderTerms(TypedDict, total=False):
    """What `paid_order` may be told, for the builders that pass it on."""

    price: int
    quantity: int
    shipping: int


async def paid_order(
    client: httpx.AsyncClient,
    *,
    market: Market,
    price: int = 1000,
    quantity: int = 1,
    shipping: int = 500,
) -> tuple[Json, Json]:
    """A fresh listing of the market's seller, bought and paid by its buyer:
    (the listing as created, the paid order)."""
    listing = await listing_for_sale(
        client,
        seller=market.seller,
        category_id=market.category_id,
        price=price,
        shipping=shipping,
    )
    created = await checkout(
        client, who=market.buyer, items=[{"listing_id": listing["id"], "quantity": quantity}]
    )
    paid = await pay(client, who=market.buyer, checkout_id=created["id"])
    (order,) = paid["orders"]
    return listing, order


# --- orders -----------------------------------------------------------------------------------


async def get_order(client: httpx.AsyncClient, *, who: LoggedIn, order_id: str) -> Json:
    order: Json = json_ok(await client.get(f"{ORDERS}/{order_id}", headers=who.headers))
    return order


async def post_ship(client: httpx.AsyncClient, *, who: LoggedIn, order_id: str) -> httpx.Response:
    return await client.post(
        f"{ORDERS}/{order_id}/ship",
        json={"carrier": "sandbox", "tracking_number": "SBX00000001-DELIVERED-0"},
        headers=who.headers,
    )


async def ship(client: httpx.AsyncClient, *, who: LoggedIn, order_id: str) -> Json:
    order: Json = json_ok(await post_ship(client, who=who, order_id=order_id))
    assert order["status"] == "shipped"
    return order


async def post_confirm(
    client: httpx.AsyncClient, *, who: LoggedIn, order_id: str
) -> httpx.Response:
    return await client.post(f"{ORDERS}/{order_id}/confirm-receipt", headers=who.headers)


async def confirm(client: httpx.AsyncClient, *, who: LoggedIn, order_id: str) -> Json:
    order: Json = json_ok(await post_confirm(client, who=who, order_id=order_id))
    assert order["status"] == "completed"
    return order


async def post_cancel(
    client: httpx.AsyncClient, *, who: LoggedIn, order_id: str, reason: str = "changed my mind"
) -> httpx.Response:
    return await client.post(
        f"{ORDERS}/{order_id}/cancel", json={"reason": reason}, headers=who.headers
    )


async def order_events(client: httpx.AsyncClient, *, who: LoggedIn, order_id: str) -> list[Json]:
    found: list[Json] = json_ok(
        await client.get(f"{ORDERS}/{order_id}/events", headers=who.headers)
    )
    return found


async def list_orders(
    client: httpx.AsyncClient, *, who: LoggedIn, **params: str | list[str]
) -> list[Json]:
    """The caller's orders (one page of up to 100); a list value repeats the parameter."""
    return only_page(await client.get(ORDERS, params={"limit": 100, **params}, headers=who.headers))


async def order_counts(client: httpx.AsyncClient, *, who: LoggedIn, **params: str) -> Json:
    counts: Json = json_ok(await client.get(f"{ORDERS}/counts", params=params, headers=who.headers))
    return counts
