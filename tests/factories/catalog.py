"""Categories and listings, made through the HTTP API as an admin and a seller would."""

import base64
import uuid
from typing import Any, TypedDict, Unpack

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, usd

CATEGORIES = "/v1/categories"
ADMIN_CATEGORIES = "/v1/admin/categories"
LISTINGS = "/v1/listings"
MY_LISTINGS = "/v1/sellers/me/listings"
ADMIN_LISTINGS = "/v1/admin/listings"

# A real 1x1 transparent PNG.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(200))
WEBP_BYTES = b"RIFF" + (200).to_bytes(4, "little") + b"WEBP" + b"VP8 " + bytes(200)


# --- categories -------------------------------------------------------------------------------


async def create_category(
    client: httpx.AsyncClient,
    *,
    admin: LoggedIn,
    name: str | None = None,
    parent_id: str | None = None,
    **fields: Any,
) -> Json:
    body: Json = {"name": name or f"Category {uuid.uuid4().hex[:8]}", **fields}
    if parent_id is not None:
        body["parent_id"] = parent_id
    category: Json = json_ok(
        await client.post(ADMIN_CATEGORIES, json=body, headers=admin.headers), 201
    )
    return category


async def leaf_category(
    client: httpx.AsyncClient, *, admin: LoggedIn, parent_id: str | None = None
) -> str:
    """The id of a new category without children (where listings may go)."""
    category = await create_category(client, admin=admin, parent_id=parent_id)
    category_id: str = category["id"]
    return category_id


async def nested_leaf_category(client: httpx.AsyncClient, *, admin: LoggedIn) -> str:
    """A new root category with one child (a leaf); the child's id."""
    root = await create_category(client, admin=admin, name=f"Root {uuid.uuid4().hex[:8]}")
    return await leaf_category(client, admin=admin, parent_id=root["id"])


# --- listings ---------------------------------------------------------------------------------


def listing_body(*, category_id: str, **overrides: Any) -> Json:
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
    client: httpx.AsyncClient, *, seller: LoggedIn, category_id: str, **overrides: Any
) -> Json:
    """A new draft of `seller`: `listing_body` changed by `overrides`."""
    body = listing_body(category_id=category_id, **overrides)
    listing: Json = json_ok(await client.post(LISTINGS, json=body, headers=seller.headers), 201)
    assert listing["status"] == "draft"
    return listing


async def call(
    client: httpx.AsyncClient, *, who: LoggedIn, action: str, listing_id: str
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
    client: httpx.AsyncClient, *, who: LoggedIn, action: str, listing_id: str, expected: str
) -> Json:
    """`action` succeeds and leaves the listing in state `expected`."""
    listing: Json = json_ok(await call(client, who=who, action=action, listing_id=listing_id))
    assert listing["status"] == expected, listing
    return listing


async def publish(client: httpx.AsyncClient, *, seller: LoggedIn, listing_id: str) -> Json:
    listing: Json = json_ok(await call(client, who=seller, action="publish", listing_id=listing_id))
    return listing


async def live_listing(
    client: httpx.AsyncClient, *, seller: LoggedIn, category_id: str, **overrides: Any
) -> Json:
    """A created and published listing, checked to be active."""
    listing = await create_listing(client, seller=seller, category_id=category_id, **overrides)
    published = await publish(client, seller=seller, listing_id=listing["id"])
    assert published["status"] == "active", published
    return published


class SaleTerms(TypedDict, total=False):
    """What `draft_listing` may be told, for the builders that pass it on."""

    price: int
    quantity: int
    shipping: int
    title: str | None


async def draft_listing(
    client: httpx.AsyncClient,
    *,
    seller: LoggedIn,
    category_id: str,
    price: int = 1000,
    quantity: int = 5,
    shipping: int = 500,
    title: str | None = None,
) -> Json:
    """A draft to be bought: its price, stock and shipping fee in USD minor units, a title of
    its own."""
    return await create_listing(
        client,
        seller=seller,
        category_id=category_id,
        title=title or f"Vintage camera {uuid.uuid4().hex[:6]}",
        description="Works, with a leather case",
        price=usd(price),
        quantity=quantity,
        condition="good",
        shipping_fee=usd(shipping),
    )


async def listing_for_sale(
    client: httpx.AsyncClient, *, seller: LoggedIn, category_id: str, **terms: Unpack[SaleTerms]
) -> Json:
    """A `draft_listing`, published and checked to be active."""
    draft = await draft_listing(client, seller=seller, category_id=category_id, **terms)
    published = await publish(client, seller=seller, listing_id=draft["id"])
    assert published["status"] == "active", published
    return published


async def patch_listing(
    client: httpx.AsyncClient, *, seller: LoggedIn, listing_id: str, **fields: Any
) -> Json:
    listing: Json = json_ok(
        await client.patch(f"{LISTINGS}/{listing_id}", json=fields, headers=seller.headers)
    )
    return listing


async def get_listing(
    client: httpx.AsyncClient, *, listing_id: str, who: LoggedIn | None = None
) -> httpx.Response:
    """GET the listing, anonymously unless `who` is given."""
    headers = who.headers if who is not None else {}
    return await client.get(f"{LISTINGS}/{listing_id}", headers=headers)


async def read_listing(client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str) -> Json:
    """The listing as `who` sees it (200)."""
    listing: Json = json_ok(await get_listing(client, listing_id=listing_id, who=who))
    return listing


async def search_all(client: httpx.AsyncClient, **params: Any) -> list[Json]:
    """Every search result, following `next_cursor` to the end."""
    items: list[Json] = []
    cursor: str | None = None
    for _ in range(100):
        query = {k: v for k, v in params.items() if v is not None}
        if cursor is not None:
            query["cursor"] = cursor
        page = json_ok(await client.get(LISTINGS, params=query))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next_cursor is not empty"
    raise AssertionError("search pagination does not terminate")


async def search_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [item["id"] for item in await search_all(client, **params)]


async def my_listing_ids(client: httpx.AsyncClient, *, seller: LoggedIn) -> list[str]:
    response = await client.get(MY_LISTINGS, params={"limit": 100}, headers=seller.headers)
    return [item["id"] for item in json_ok(response)["items"]]


async def report_listing(client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str) -> Json:
    response = await client.post(
        f"{LISTINGS}/{listing_id}/reports",
        json={"reason": "counterfeit", "details": "Looks fake"},
        headers=who.headers,
    )
    created: Json = json_ok(response, 201)
    return created
