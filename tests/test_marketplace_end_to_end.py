"""The whole escrow journey across domains, as the issue's must-show describes: two sellers'
items in one cart → one checkout, two orders → one payment → both shipped → one confirmed by
the buyer, one completed by the worker → balances right to the cent → payout → paid."""

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.payments.provider import SandboxProvider
from app.worker.runner import WorkerContext, run_once
from tests.factories.accounts import LoggedIn, create_user, login, register_and_login

ADDRESS = {
    "name": "Ada",
    "line1": "1 Main St",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


async def _seller(client: httpx.AsyncClient, admin: LoggedIn, shop: str) -> LoggedIn:
    seller = await register_and_login(client)
    applied = await client.post(
        "/v1/sellers",
        headers=seller.headers,
        json={
            "shop_name": shop,
            "legal_name": f"{shop} Ltd",
            "seller_type": "business",
            "country": "DE",
            "contact_email": seller.email,
            "contact_phone": "+49 30 123456",
            "payout_account": "DE89370400440532013000",
        },
    )
    assert applied.status_code == 201, applied.text
    approved = await client.post(
        f"/v1/admin/sellers/{applied.json()['id']}/approve", headers=admin.headers
    )
    assert approved.status_code == 200, approved.text
    return seller


async def _listing(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str, price: int, shipping: int
) -> dict[str, Any]:
    created = await client.post(
        "/v1/listings",
        headers=seller.headers,
        json={
            "title": f"Thing {uuid.uuid4().hex[:6]}",
            "description": "in good shape",
            "price": {"amount": price, "currency": "USD"},
            "shipping_fee": {"amount": shipping, "currency": "USD"},
            "quantity": 3,
            "condition": "good",
            "category_id": category_id,
        },
    )
    assert created.status_code == 201, created.text
    published = await client.post(
        f"/v1/listings/{created.json()['id']}/publish", headers=seller.headers
    )
    assert published.json()["status"] == "active"
    return dict(published.json())


async def _available(client: httpx.AsyncClient, seller: LoggedIn) -> int:
    balance = await client.get("/v1/sellers/me/balance", headers=seller.headers)
    usd = balance.json()
    assert usd["currency"] == "USD"
    return int(usd["available"]["amount"])


async def test_two_sellers_one_checkout_to_payout(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    admin_user = await create_user(session, is_admin=True)
    admin = await login(client, email=admin_user.email)
    root = await client.post("/v1/admin/categories", headers=admin.headers, json={"name": "Home"})
    leaf = await client.post(
        "/v1/admin/categories",
        headers=admin.headers,
        json={"name": "Lamps", "parent_id": root.json()["id"]},
    )
    category_id = leaf.json()["id"]
    alice, bob = (
        await _seller(client, admin, "Alice Lamps"),
        await _seller(client, admin, "Bob Bits"),
    )
    lamp = await _listing(client, alice, category_id, price=2_499, shipping=500)
    bulb = await _listing(client, bob, category_id, price=1_005, shipping=0)
    buyer = await register_and_login(client)

    for listing, quantity in ((lamp, 1), (bulb, 2)):
        put = await client.put(
            f"/v1/cart/items/{listing['id']}", headers=buyer.headers, json={"quantity": quantity}
        )
        assert put.status_code == 200, put.text
    checkout = await client.post(
        "/v1/checkout",
        headers={**buyer.headers, "Idempotency-Key": str(uuid.uuid4())},
        json={"shipping_address": ADDRESS},
    )
    assert checkout.status_code == 201, checkout.text
    body = checkout.json()
    orders = {o["seller_id"]: o for o in body["orders"]}
    assert len(orders) == 2
    assert body["total"] == {"amount": 2_499 + 500 + 2 * 1_005, "currency": "USD"}

    paid = await client.post(
        f"/v1/checkouts/{body['id']}/pay",
        headers={**buyer.headers, "Idempotency-Key": str(uuid.uuid4())},
        json={"payment_token": "tok_success"},
    )
    assert paid.status_code == 200, paid.text
    assert {o["status"] for o in paid.json()["orders"]} == {"paid"}

    lamp_order = next(o for o in paid.json()["orders"] if o["lines"][0]["listing_id"] == lamp["id"])
    bulb_order = next(o for o in paid.json()["orders"] if o["lines"][0]["listing_id"] == bulb["id"])
    for order, seller in ((lamp_order, alice), (bulb_order, bob)):
        shipped = await client.post(
            f"/v1/orders/{order['id']}/ship",
            headers=seller.headers,
            json={"carrier": "sandbox", "tracking_number": "SBX00000001-DELIVERED-0"},
        )
        assert shipped.status_code == 200, shipped.text

    confirmed = await client.post(
        f"/v1/orders/{lamp_order['id']}/confirm-receipt", headers=buyer.headers
    )
    assert confirmed.json()["status"] == "completed"
    # Lamp order: 2499 + 500 = 2999; 10 % commission = 299.9 → 300; Alice nets 2699.
    assert await _available(client, alice) == 2_699
    assert await _available(client, bob) == 0  # still in escrow

    clock.advance(settings.auto_complete_after)
    # Two weeks later everybody's access token has expired: they log in again.
    admin, alice, bob = [await login(client, email=u.email) for u in (admin, alice, bob)]
    sweep = await run_once(WorkerContext(database, settings, SandboxProvider()))
    assert sweep["auto_complete_orders"] == 1
    bulb_now = await client.get(f"/v1/orders/{bulb_order['id']}", headers=bob.headers)
    assert bulb_now.json()["status"] == "completed"
    # Bulb order: 2 * 1005 = 2010; commission 201; Bob nets 1809.
    assert await _available(client, bob) == 1_809

    payout = await client.post(
        "/v1/sellers/me/payouts",
        headers={**alice.headers, "Idempotency-Key": str(uuid.uuid4())},
        json={"amount": {"amount": 2_699, "currency": "USD"}},
    )
    assert payout.status_code == 201, payout.text
    assert payout.json()["status"] == "pending"
    sweep = await run_once(WorkerContext(database, settings, SandboxProvider()))
    assert sweep["settle_payouts"] == 1
    payouts = await client.get("/v1/sellers/me/payouts", headers=alice.headers)
    assert [p["status"] for p in payouts.json()["items"]] == ["paid"]
    assert await _available(client, alice) == 0

    report = await client.get("/v1/admin/ledger/reconcile", headers=admin.headers)
    assert report.json()["ok"] is True, report.json()["violations"]
    assert report.json()["violations"] == []
