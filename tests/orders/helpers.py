"""Shared helpers for the cart, checkout, order, worker and payout tests. Everything is done
through the HTTP API, as a client would; only the worker sweep is called directly."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.db import Database
from app.payments import ledger
from app.payments.models import Account, LedgerTransaction, ProviderOperation
from app.payments.provider import SandboxProvider
from app.worker.runner import WorkerContext, run_once
from tests.factories import LoggedIn, create_user, login, register_and_login

Json = dict[str, Any]

CART = "/v1/cart"
CHECKOUT = "/v1/checkout"
ORDERS = "/v1/orders"
LISTINGS = "/v1/listings"
BALANCE = "/v1/sellers/me/balance"
LEDGER = "/v1/sellers/me/ledger"
PAYOUTS = "/v1/sellers/me/payouts"
RECONCILE = "/v1/admin/ledger/reconcile"

GOOD_IBAN = "DE89370400440532013000"
FAILING_ACCOUNT = "DE8937040044053201FAIL"

ADDRESS: Json = {
    "name": "Grace Hopper",
    "line1": "1 Harbour Street",
    "city": "Hamburg",
    "postal_code": "20095",
    "country": "DE",
    "phone": "+49 40 123456",
}


def usd(amount: int) -> Json:
    return {"amount": amount, "currency": "USD"}


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


def parse_time(value: str) -> datetime:
    """An RFC 3339 timestamp of the API as an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


# --- the cast ---------------------------------------------------------------------------------


async def admin(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    user = await create_user(session, is_admin=True, display_name="Admin")
    return await login(client, user.email)


async def buyer(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, display_name="Buyer")


async def relogin(client: httpx.AsyncClient, who: LoggedIn) -> LoggedIn:
    """Fresh tokens, for after the clock was moved past the access token's lifetime."""
    return await login(client, who.email)


def seller_application(payout_account: str) -> Json:
    return {
        "shop_name": f"Shop {uuid.uuid4().hex[:10]}",
        "description": "Pre-loved electronics",
        "legal_name": "Demo Seller",
        "seller_type": "individual",
        "country": "DE",
        "contact_email": "seller@example.com",
        "contact_phone": "+49 30 1234567",
        "payout_account": payout_account,
    }


async def approved_seller(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin: LoggedIn,
    payout_account: str = GOOD_IBAN,
) -> tuple[LoggedIn, str]:
    """A new user whose shop an admin approved: (their login, seller id)."""
    user = await register_and_login(client, display_name="Seller")
    applied = await client.post(
        "/v1/sellers", json=seller_application(payout_account), headers=user.headers
    )
    assert applied.status_code == 201, applied.text
    seller_id: str = applied.json()["id"]
    approved = await client.post(f"/v1/admin/sellers/{seller_id}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    return user, seller_id


async def leaf_category(client: httpx.AsyncClient, admin: LoggedIn) -> str:
    """A root with one child; the child (a leaf) is where listings go."""
    suffix = uuid.uuid4().hex[:8]
    root = await client.post(
        "/v1/admin/categories", json={"name": f"Root {suffix}"}, headers=admin.headers
    )
    assert root.status_code == 201, root.text
    leaf = await client.post(
        "/v1/admin/categories",
        json={"name": f"Leaf {suffix}", "parent_id": root.json()["id"]},
        headers=admin.headers,
    )
    assert leaf.status_code == 201, leaf.text
    leaf_id: str = leaf.json()["id"]
    return leaf_id


async def draft_listing(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    category_id: str,
    *,
    price: int = 1000,
    quantity: int = 5,
    shipping: int = 500,
    title: str | None = None,
) -> Json:
    body = {
        "title": title or f"Vintage camera {uuid.uuid4().hex[:6]}",
        "description": "Works, with a leather case",
        "price": usd(price),
        "quantity": quantity,
        "condition": "good",
        "category_id": category_id,
        "shipping_fee": usd(shipping),
    }
    response = await client.post(LISTINGS, json=body, headers=seller.headers)
    assert response.status_code == 201, response.text
    listing: Json = response.json()
    assert listing["status"] == "draft"
    return listing


async def live_listing(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    category_id: str,
    price: int = 1000,
    quantity: int = 5,
    shipping: int = 500,
    *,
    title: str | None = None,
) -> Json:
    """A created and published listing, checked to be active."""
    draft = await draft_listing(
        client, seller, category_id, price=price, quantity=quantity, shipping=shipping, title=title
    )
    published = await client.post(f"{LISTINGS}/{draft['id']}/publish", headers=seller.headers)
    assert published.status_code == 200, published.text
    listing: Json = published.json()
    assert listing["status"] == "active", listing
    return listing


async def get_listing(client: httpx.AsyncClient, who: LoggedIn, listing_id: str) -> Json:
    response = await client.get(f"{LISTINGS}/{listing_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    listing: Json = response.json()
    return listing


async def search_ids(client: httpx.AsyncClient, seller_id: str) -> list[str]:
    response = await client.get(LISTINGS, params={"seller": seller_id, "limit": 100})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@dataclass(frozen=True)
class Market:
    """An admin, one approved seller with a leaf category to list in, and a buyer."""

    admin: LoggedIn
    seller: LoggedIn
    seller_id: str
    category_id: str
    buyer: LoggedIn


async def market(
    client: httpx.AsyncClient, session: AsyncSession, payout_account: str = GOOD_IBAN
) -> Market:
    the_admin = await admin(client, session)
    seller, seller_id = await approved_seller(client, session, the_admin, payout_account)
    category_id = await leaf_category(client, the_admin)
    return Market(the_admin, seller, seller_id, category_id, await buyer(client))


# --- cart, checkout, payment ------------------------------------------------------------------


async def put_cart(
    client: httpx.AsyncClient, who: LoggedIn, listing_id: str, quantity: int
) -> httpx.Response:
    return await client.put(
        f"{CART}/items/{listing_id}", json={"quantity": quantity}, headers=who.headers
    )


async def add_to_cart(
    client: httpx.AsyncClient, who: LoggedIn, listing_id: str, quantity: int
) -> Json:
    response = await put_cart(client, who, listing_id, quantity)
    assert response.status_code == 200, response.text
    cart: Json = response.json()
    return cart


async def get_cart(client: httpx.AsyncClient, who: LoggedIn) -> Json:
    response = await client.get(CART, headers=who.headers)
    assert response.status_code == 200, response.text
    cart: Json = response.json()
    return cart


async def post_checkout(
    client: httpx.AsyncClient,
    who: LoggedIn,
    items: list[Json] | None = None,
    *,
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
    client: httpx.AsyncClient, who: LoggedIn, items: list[Json] | None = None
) -> Json:
    """A checkout of `items` (or of the cart), with a fresh Idempotency-Key; 201."""
    response = await post_checkout(client, who, items)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    assert created["status"] == "pending_payment"
    return created


async def post_pay(
    client: httpx.AsyncClient,
    who: LoggedIn,
    checkout_id: str,
    token: str = "tok_success",
    *,
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"/v1/checkouts/{checkout_id}/pay",
        json={"payment_token": token},
        headers={**who.headers, "Idempotency-Key": key or new_key()},
    )


async def pay(
    client: httpx.AsyncClient, who: LoggedIn, checkout_id: str, token: str = "tok_success"
) -> Json:
    """Pays the checkout; every order becomes `paid`."""
    response = await post_pay(client, who, checkout_id, token)
    assert response.status_code == 200, response.text
    paid: Json = response.json()
    assert paid["status"] == "paid"
    assert all(o["status"] == "paid" for o in paid["orders"])
    return paid


async def get_checkout(client: httpx.AsyncClient, who: LoggedIn, checkout_id: str) -> Json:
    response = await client.get(f"/v1/checkouts/{checkout_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    found: Json = response.json()
    return found


async def paid_order(
    client: httpx.AsyncClient,
    m: Market,
    *,
    price: int = 1000,
    quantity: int = 1,
    shipping: int = 500,
) -> tuple[Json, Json]:
    """A fresh listing of the market's seller, bought and paid by its buyer:
    (the listing as created, the paid order)."""
    listing = await live_listing(client, m.seller, m.category_id, price=price, shipping=shipping)
    created = await checkout(client, m.buyer, [{"listing_id": listing["id"], "quantity": quantity}])
    paid = await pay(client, m.buyer, created["id"])
    (order,) = paid["orders"]
    return listing, order


# --- orders -----------------------------------------------------------------------------------


async def get_order(client: httpx.AsyncClient, who: LoggedIn, order_id: str) -> Json:
    response = await client.get(f"{ORDERS}/{order_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    order: Json = response.json()
    return order


async def post_ship(client: httpx.AsyncClient, who: LoggedIn, order_id: str) -> httpx.Response:
    return await client.post(
        f"{ORDERS}/{order_id}/ship",
        json={"carrier": "DHL", "tracking_number": "JJD0099 1234"},
        headers=who.headers,
    )


async def ship(client: httpx.AsyncClient, who: LoggedIn, order_id: str) -> Json:
    response = await post_ship(client, who, order_id)
    assert response.status_code == 200, response.text
    order: Json = response.json()
    assert order["status"] == "shipped"
    return order


async def post_confirm(client: httpx.AsyncClient, who: LoggedIn, order_id: str) -> httpx.Response:
    return await client.post(f"{ORDERS}/{order_id}/confirm-receipt", headers=who.headers)


async def confirm(client: httpx.AsyncClient, who: LoggedIn, order_id: str) -> Json:
    response = await post_confirm(client, who, order_id)
    assert response.status_code == 200, response.text
    order: Json = response.json()
    assert order["status"] == "completed"
    return order


async def post_cancel(
    client: httpx.AsyncClient, who: LoggedIn, order_id: str, reason: str = "changed my mind"
) -> httpx.Response:
    return await client.post(
        f"{ORDERS}/{order_id}/cancel", json={"reason": reason}, headers=who.headers
    )


async def order_events(client: httpx.AsyncClient, who: LoggedIn, order_id: str) -> list[Json]:
    response = await client.get(f"{ORDERS}/{order_id}/events", headers=who.headers)
    assert response.status_code == 200, response.text
    found: list[Json] = response.json()
    return found


async def list_orders(client: httpx.AsyncClient, who: LoggedIn, **params: str) -> list[Json]:
    response = await client.get(ORDERS, params={"limit": 100, **params}, headers=who.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    items: list[Json] = body["items"]
    return items


# --- money ------------------------------------------------------------------------------------


async def balance(client: httpx.AsyncClient, seller: LoggedIn) -> Json:
    """The seller's USD balance as {pending, available, debt, in_transit, reserved} in minor
    units."""
    response = await client.get(BALANCE, headers=seller.headers)
    assert response.status_code == 200, response.text
    (usd_balance,) = [b for b in response.json() if b["currency"] == "USD"]
    amounts: Json = {}
    for field in ("pending", "available", "debt", "in_transit", "reserved"):
        assert usd_balance[field]["currency"] == "USD"
        amounts[field] = usd_balance[field]["amount"]
    return amounts


def amounts(
    pending: int = 0, available: int = 0, debt: int = 0, in_transit: int = 0, reserved: int = 0
) -> Json:
    return {
        "pending": pending,
        "available": available,
        "debt": debt,
        "in_transit": in_transit,
        "reserved": reserved,
    }


async def seller_ledger(client: httpx.AsyncClient, seller: LoggedIn) -> list[Json]:
    response = await client.get(LEDGER, params={"limit": 100}, headers=seller.headers)
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


async def post_payout(
    client: httpx.AsyncClient, seller: LoggedIn, amount: int, *, key: str | None = None
) -> httpx.Response:
    return await client.post(
        PAYOUTS,
        json={"amount": usd(amount)},
        headers={**seller.headers, "Idempotency-Key": key or new_key()},
    )


async def payouts(client: httpx.AsyncClient, seller: LoggedIn) -> list[Json]:
    response = await client.get(PAYOUTS, headers=seller.headers)
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


async def reconcile(client: httpx.AsyncClient, admin: LoggedIn) -> Json:
    response = await client.get(RECONCILE, headers=admin.headers)
    assert response.status_code == 200, response.text
    report: Json = response.json()
    return report


async def reconcile_ok(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    """The ledger reconciles: every invariant holds, nothing is listed as violated."""
    report = await reconcile(client, admin)
    assert report["violations"] == []
    assert report["ok"] is True
    assert parse_time(report["checked_at"])


async def sweep(database: Database, settings: Settings) -> dict[str, int]:
    """One worker sweep of every job, as `marketplace worker` runs it."""
    done = await run_once(WorkerContext(database, settings, SandboxProvider()))
    assert all(count >= 0 for count in done.values()), done  # no job crashed
    return done


# --- the books, read directly (what no endpoint shows: escrow, revenue, the provider) ---------


async def escrow_of(session: AsyncSession, order_id: str) -> int:
    return await ledger.balance(session, Account.escrow, "USD", order_id=uuid.UUID(order_id))


async def platform_revenue(session: AsyncSession) -> int:
    return await ledger.balance(session, Account.platform_commission, "USD")


async def provider_book(session: AsyncSession) -> list[tuple[str, int, bool]]:
    """The sandbox provider's operations as (kind, amount, succeeded), oldest first."""
    rows = await session.execute(
        select(
            ProviderOperation.kind, ProviderOperation.amount, ProviderOperation.succeeded
        ).order_by(ProviderOperation.created_at, ProviderOperation.id)
    )
    return [(kind.value, amount, succeeded) for kind, amount, succeeded in rows]


async def ledger_kinds(session: AsyncSession) -> list[str]:
    """The kinds of every ledger transaction, oldest first."""
    rows = await session.scalars(select(LedgerTransaction.kind).order_by(LedgerTransaction.id))
    return list(rows)
