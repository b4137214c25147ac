"""HTTP helpers shared by the seller tests: apply, decide, and set up shops and categories."""

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import LoggedIn, create_user, login, register_and_login

SELLERS = "/v1/sellers"
MY_SELLER = "/v1/sellers/me"
MY_LISTINGS = "/v1/sellers/me/listings"
ADMIN_SELLERS = "/v1/admin/sellers"
AUDIT = "/v1/admin/audit-log"
LISTINGS = "/v1/listings"
ME = "/v1/me"

# An IBAN as a person types it; the API stores it compacted and upper-cased.
PAYOUT_ACCOUNT = "de89 3704 0044 0532 0130 00"
PAYOUT_COMPACT = "DE89370400440532013000"


def application(**overrides: Any) -> dict[str, Any]:
    """A valid POST /v1/sellers body with a shop name unique to this call."""
    body: dict[str, Any] = {
        "shop_name": f"Shop {uuid.uuid4().hex[:8]}",
        "description": "Refurbished phones and accessories",
        "legal_name": "Ada Lovelace",
        "seller_type": "individual",
        "country": "DE",
        "contact_email": "shop@example.com",
        "contact_phone": "+49 30 1234567",
        "payout_account": PAYOUT_ACCOUNT,
    }
    body.update(overrides)
    return body


async def apply(client: httpx.AsyncClient, user: LoggedIn, **overrides: Any) -> httpx.Response:
    return await client.post(SELLERS, json=application(**overrides), headers=user.headers)


async def apply_ok(client: httpx.AsyncClient, user: LoggedIn, **overrides: Any) -> dict[str, Any]:
    response = await apply(client, user, **overrides)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_admin(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    user = await create_user(session, is_admin=True, display_name="Admin")
    return await login(client, user.email)


async def decide(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller_id: str,
    action: str,
    reason: str | None = None,
) -> httpx.Response:
    """POST /v1/admin/sellers/{id}/{action}, with a reason when one is given."""
    body = None if reason is None else {"reason": reason}
    return await client.post(
        f"{ADMIN_SELLERS}/{seller_id}/{action}", json=body, headers=admin.headers
    )


async def decide_ok(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller_id: str,
    action: str,
    reason: str | None = None,
) -> dict[str, Any]:
    response = await decide(client, admin, seller_id, action, reason)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def approve(client: httpx.AsyncClient, admin: LoggedIn, seller_id: str) -> dict[str, Any]:
    return await decide_ok(client, admin, seller_id, "approve")


async def me(client: httpx.AsyncClient, user: LoggedIn) -> dict[str, Any]:
    response = await client.get(ME, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def my_profile(client: httpx.AsyncClient, user: LoggedIn) -> dict[str, Any]:
    response = await client.get(MY_SELLER, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_approved_seller(
    client: httpx.AsyncClient,
    session: AsyncSession,
    *,
    admin: LoggedIn | None = None,
    **overrides: Any,
) -> tuple[LoggedIn, str]:
    """A registered, logged-in user whose shop an admin approved; returns it and the seller id."""
    admin = admin or await make_admin(client, session)
    seller = await register_and_login(client, display_name="Seller")
    seller_id = (await apply_ok(client, seller, **overrides))["id"]
    await approve(client, admin, seller_id)
    return seller, seller_id


async def make_seller_in_state(
    client: httpx.AsyncClient, admin: LoggedIn, state: str
) -> tuple[LoggedIn, str | None]:
    """A logged-in user whose shop is in `state` ("none": never applied)."""
    user = await register_and_login(client)
    if state == "none":
        return user, None
    seller_id: str = (await apply_ok(client, user))["id"]
    if state == "rejected":
        await decide_ok(client, admin, seller_id, "reject", "Blurry ID document")
    elif state in ("approved", "suspended"):
        await approve(client, admin, seller_id)
        if state == "suspended":
            await decide_ok(client, admin, seller_id, "suspend", "Chargebacks")
    else:
        assert state == "pending_review", state
    return user, seller_id


async def make_leaf_category(client: httpx.AsyncClient, admin: LoggedIn) -> str:
    """A root category with one child (a leaf); returns the leaf's id."""
    suffix = uuid.uuid4().hex[:8]
    root = await client.post(
        "/v1/admin/categories", json={"name": f"Electronics {suffix}"}, headers=admin.headers
    )
    assert root.status_code == 201, root.text
    leaf = await client.post(
        "/v1/admin/categories",
        json={"name": f"Phones {suffix}", "parent_id": root.json()["id"]},
        headers=admin.headers,
    )
    assert leaf.status_code == 201, leaf.text
    leaf_id: str = leaf.json()["id"]
    return leaf_id


def listing_body(category_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Refurbished handset",
        "description": "Works like new, comes with a charger.",
        "price": {"amount": 1000, "currency": "USD"},
        "quantity": 2,
        "condition": "new",
        "category_id": category_id,
    }
    body.update(overrides)
    return body


async def create_listing(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        LISTINGS, json=listing_body(category_id, **overrides), headers=seller.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def publish(client: httpx.AsyncClient, seller: LoggedIn, listing_id: str) -> dict[str, Any]:
    response = await client.post(f"{LISTINGS}/{listing_id}/publish", headers=seller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def audit_entries(
    client: httpx.AsyncClient, admin: LoggedIn, seller_id: str
) -> list[dict[str, Any]]:
    """The seller's audit trail, newest first."""
    response = await client.get(
        AUDIT,
        params={"target_type": "seller", "target_id": seller_id, "limit": 100},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
