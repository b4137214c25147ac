"""Shared helpers for the catalog tests: a whole marketplace cast (admin, approved sellers,
buyers) built through the HTTP API, plus listings in any state."""

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import LoggedIn, create_user, login, register_and_login

Json = dict[str, Any]

CATEGORIES = "/v1/categories"
ADMIN_CATEGORIES = "/v1/admin/categories"
LISTINGS = "/v1/listings"
MY_LISTINGS = "/v1/sellers/me/listings"
ADMIN_LISTINGS = "/v1/admin/listings"
AUDIT = "/v1/admin/audit-log"

# A real 1x1 transparent PNG.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(200))
WEBP_BYTES = b"RIFF" + (200).to_bytes(4, "little") + b"WEBP" + b"VP8 " + bytes(200)


def usd(amount: int) -> Json:
    return {"amount": amount, "currency": "USD"}


async def admin_user(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    user = await create_user(session, is_admin=True, display_name="Admin")
    return await login(client, user.email)


async def buyer_user(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, display_name="Buyer")


def seller_application(shop_name: str | None = None) -> Json:
    return {
        "shop_name": shop_name or f"Shop {uuid.uuid4().hex[:10]}",
        "description": "We sell things",
        "legal_name": "Jane Doe",
        "seller_type": "individual",
        "country": "DE",
        "contact_email": "shop@example.com",
        "contact_phone": "+49 30 1234567",
        "payout_account": "DE89370400440532013000",
    }


async def apply_to_sell(client: httpx.AsyncClient, user: LoggedIn) -> str:
    response = await client.post("/v1/sellers", json=seller_application(), headers=user.headers)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_review"
    seller_id: str = response.json()["id"]
    return seller_id


async def approved_seller(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn | None = None
) -> tuple[LoggedIn, str]:
    """A freshly registered user whose shop an admin approved: (their login, seller id)."""
    admin = admin or await admin_user(client, session)
    user = await register_and_login(client, display_name="Seller")
    seller_id = await apply_to_sell(client, user)
    response = await client.post(f"/v1/admin/sellers/{seller_id}/approve", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    return user, seller_id


async def create_category(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    name: str | None = None,
    *,
    parent_id: str | None = None,
    **fields: Any,
) -> Json:
    body: Json = {"name": name or f"Category {uuid.uuid4().hex[:8]}", **fields}
    if parent_id is not None:
        body["parent_id"] = parent_id
    response = await client.post(ADMIN_CATEGORIES, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    category: Json = response.json()
    return category


async def leaf_category(
    client: httpx.AsyncClient, admin: LoggedIn, *, parent_id: str | None = None
) -> str:
    """The id of a new category without children (where listings may go)."""
    category = await create_category(client, admin, parent_id=parent_id)
    category_id: str = category["id"]
    return category_id


def listing_body(category_id: str, **overrides: Any) -> Json:
    return {
        "title": "Blue ceramic mug",
        "description": "Hand-made, holds 300 ml",
        "price": usd(1999),
        "quantity": 5,
        "condition": "new",
        "category_id": category_id,
        **overrides,
    }


async def create_listing(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str, **overrides: Any
) -> Json:
    response = await client.post(
        LISTINGS, json=listing_body(category_id, **overrides), headers=seller.headers
    )
    assert response.status_code == 201, response.text
    listing: Json = response.json()
    assert listing["status"] == "draft"
    return listing


async def call(
    client: httpx.AsyncClient, who: LoggedIn, action: str, listing_id: str
) -> httpx.Response:
    """Perform a listing action as the API exposes it (seller actions and admin moderation)."""
    if action == "archive":
        return await client.delete(f"{LISTINGS}/{listing_id}", headers=who.headers)
    if action in ("publish", "pause", "resume"):
        return await client.post(f"{LISTINGS}/{listing_id}/{action}", headers=who.headers)
    if action == "approve":
        return await client.post(f"{ADMIN_LISTINGS}/{listing_id}/approve", headers=who.headers)
    if action in ("reject", "remove"):
        return await client.post(
            f"{ADMIN_LISTINGS}/{listing_id}/{action}",
            json={"reason": f"{action} in a test"},
            headers=who.headers,
        )
    raise AssertionError(f"no endpoint for action {action!r}")


async def act(
    client: httpx.AsyncClient, who: LoggedIn, action: str, listing_id: str, expected: str
) -> Json:
    """`action` succeeds and leaves the listing in state `expected`."""
    response = await call(client, who, action, listing_id)
    assert response.status_code == 200, response.text
    listing: Json = response.json()
    assert listing["status"] == expected, listing
    return listing


async def publish(client: httpx.AsyncClient, seller: LoggedIn, listing_id: str) -> Json:
    response = await call(client, seller, "publish", listing_id)
    assert response.status_code == 200, response.text
    listing: Json = response.json()
    return listing


async def live_listing(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str, **overrides: Any
) -> Json:
    """A created and published listing, checked to be active."""
    listing = await create_listing(client, seller, category_id, **overrides)
    published = await publish(client, seller, listing["id"])
    assert published["status"] == "active", published
    return published


async def patch_listing(
    client: httpx.AsyncClient, seller: LoggedIn, listing_id: str, **fields: Any
) -> Json:
    response = await client.patch(f"{LISTINGS}/{listing_id}", json=fields, headers=seller.headers)
    assert response.status_code == 200, response.text
    listing: Json = response.json()
    return listing


async def get_listing(
    client: httpx.AsyncClient, listing_id: str, who: LoggedIn | None = None
) -> httpx.Response:
    headers = who.headers if who is not None else {}
    return await client.get(f"{LISTINGS}/{listing_id}", headers=headers)


async def search_all(client: httpx.AsyncClient, **params: Any) -> list[Json]:
    """Every search result, following `next_cursor` to the end."""
    items: list[Json] = []
    cursor: str | None = None
    for _ in range(100):
        query = {k: v for k, v in params.items() if v is not None}
        if cursor is not None:
            query["cursor"] = cursor
        response = await client.get(LISTINGS, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next_cursor is not empty"
    raise AssertionError("search pagination does not terminate")


async def search_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [item["id"] for item in await search_all(client, **params)]


async def audit_entries(
    client: httpx.AsyncClient, admin: LoggedIn, target_type: str, target_id: str
) -> list[Json]:
    response = await client.get(
        AUDIT, params={"target_type": target_type, "target_id": target_id}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


@asynccontextmanager
async def custom_client(
    database: Database, database_url: str, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built with settings changed by `overrides`, sharing the test's
    database transaction (so users made through another client exist here too)."""
    app = create_app(make_settings(database_url, **overrides), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
