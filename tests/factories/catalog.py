"""Categories and listings, made through the HTTP API as an admin and a seller would."""

import base64
import uuid
import zlib
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


def png_of_size(size: int) -> bytes:
    """A whole, decodable PNG (PNG_1X1) of exactly `size` bytes: padded with a text chunk."""
    iend = PNG_1X1.rindex(b"IEND") - 4
    overhead = 12 + len(b"pad\0")  # length, type and CRC, and the keyword
    filler = size - len(PNG_1X1) - overhead
    assert filler >= 0, f"a PNG has at least {len(PNG_1X1) + overhead} bytes"
    body = b"tEXt" + b"pad\0" + b"x" * filler
    chunk = len(body[4:]).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return PNG_1X1[:iend] + chunk + PNG_1X1[iend:]


# Real 2x2 images (uploads are decoded to derive their sizes, so they must be whole).
JPEG_BYTES = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYW"
    "ICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo"
    "KCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAACAAIDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
    "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAA"
    "AAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLR"
    "ChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaX"
    "mJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwDgKKKK+eP2E//Z"
)
WEBP_BYTES = base64.b64decode(
    "UklGRjoAAABXRUJQVlA4IC4AAACwAQCdASoCAAIAAUAmJaACdLoABDAAAP7x3I/4DdfFtMv/vYL/3YL/3YL/WwAA"
)


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


async def get_own_listing(
    client: httpx.AsyncClient, *, listing_id: str, seller: LoggedIn
) -> httpx.Response:
    """GET the seller's own view of their listing (`ListingRead`)."""
    return await client.get(f"{MY_LISTINGS}/{listing_id}", headers=seller.headers)


async def read_own_listing(client: httpx.AsyncClient, *, seller: LoggedIn, listing_id: str) -> Json:
    """The listing as its seller sees it in their own view (200)."""
    listing: Json = json_ok(await get_own_listing(client, listing_id=listing_id, seller=seller))
    return listing


async def read_admin_listing(
    client: httpx.AsyncClient, *, admin: LoggedIn, listing_id: str
) -> Json:
    """The listing as moderators see it (200)."""
    response = await client.get(f"{ADMIN_LISTINGS}/{listing_id}", headers=admin.headers)
    listing: Json = json_ok(response)
    return listing


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
