"""Listing images: type judged by content, size and count limits from settings, stored
under the media directory and served back byte for byte."""

import re
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import ListingImage
from app.config import Settings
from app.core.db import Database
from tests.factories.accounts import LoggedIn, admin_user
from tests.factories.api import Json, assert_problem
from tests.factories.apps import client_with, make_settings
from tests.factories.catalog import (
    JPEG_BYTES,
    LISTINGS,
    PNG_1X1,
    WEBP_BYTES,
    create_listing,
    get_listing,
    leaf_category,
    live_listing,
    png_of_size,
)
from tests.factories.sellers import approved_seller

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _upload(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    listing_id: str,
    data: bytes,
    filename: str = "x.png",
    content_type: str = "image/png",
) -> httpx.Response:
    return await client.post(
        f"{LISTINGS}/{listing_id}/images",
        files={"file": (filename, data, content_type)},
        headers=seller.headers,
    )


@pytest.mark.parametrize(
    ("data", "filename", "declared", "content_type", "extension"),
    [
        pytest.param(PNG_1X1, "x.png", "image/png", "image/png", "png", id="png"),
        pytest.param(JPEG_BYTES, "x.jpg", "image/jpeg", "image/jpeg", "jpg", id="jpeg"),
        pytest.param(WEBP_BYTES, "x.webp", "image/webp", "image/webp", "webp", id="webp"),
        # The declared name and type do not matter, only the bytes do.
        pytest.param(PNG_1X1, "photo.jpg", "image/jpeg", "image/png", "png", id="png-named-jpeg"),
        pytest.param(
            JPEG_BYTES, "blob", "application/octet-stream", "image/jpeg", "jpg", id="jpeg-untyped"
        ),
    ],
)
async def test_upload_stores_and_serves_the_exact_bytes(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    category_id: str,
    data: bytes,
    filename: str,
    declared: str,
    content_type: str,
    extension: str,
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)

    response = await _upload(client, seller, listing["id"], data, filename, declared)

    assert response.status_code == 201, response.text
    [image] = response.json()["images"]
    assert re.fullmatch(
        rf"http://testserver/media/listings/{listing['id']}/[0-9a-f-]{{36}}\.{extension}",
        image["url"],
    ), image["url"]
    assert image["url"].endswith(f"/{image['id']}.{extension}")
    assert image["content_type"] == content_type
    assert image["size_bytes"] == len(data)
    assert image["position"] == 0
    served = await client.get(image["url"])
    assert served.status_code == 200
    assert served.content == data
    # A stored name is never reused for other bytes, so browsers and CDNs may keep it.
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    # Uploaded bytes are judged by content on the way in; a browser must not re-judge them.
    assert served.headers["x-content-type-options"] == "nosniff"
    reread = (await get_listing(client, listing_id=listing["id"], who=seller)).json()
    assert reread["images"] == [image]


async def test_images_keep_their_upload_order_and_show_on_the_public_listing(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    for data in (PNG_1X1, JPEG_BYTES, WEBP_BYTES):
        response = await _upload(client, seller, listing["id"], data)
        assert response.status_code == 201, response.text

    public = (await get_listing(client, listing_id=listing["id"])).json()

    assert [i["content_type"] for i in public["images"]] == [
        "image/png",
        "image/jpeg",
        "image/webp",
    ]
    assert [i["position"] for i in public["images"]] == [0, 1, 2]
    assert len({i["url"] for i in public["images"]}) == 3


async def test_search_results_carry_each_listings_images_in_display_order(
    client: httpx.AsyncClient, session: AsyncSession, seller: LoggedIn, category_id: str
) -> None:
    pictured = await live_listing(
        client, seller=seller, category_id=category_id, title="Pictured teapot"
    )
    bare = await live_listing(client, seller=seller, category_id=category_id, title="Bare teapot")
    # Stored out of display order (as after a reordering), so the order has to be made.
    for position in (2, 0, 1):
        session.add(
            ListingImage(
                listing_id=uuid.UUID(pictured["id"]),
                storage_key=f"listings/{pictured['id']}/{position}.png",
                content_type="image/png",
                size_bytes=100 + position,
                position=position,
            )
        )
    await session.flush()
    expected = (await get_listing(client, listing_id=pictured["id"])).json()["images"]
    assert [i["position"] for i in expected] == [0, 1, 2]

    # The plain search statement (by seller) and, on PostgreSQL, the ranked one (by words).
    for params in ({"seller": pictured["seller"]["id"]}, {"q": "teapot"}):
        response = await client.get(LISTINGS, params=params)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert sorted(card["id"] for card in items) == sorted([pictured["id"], bare["id"]])
        cards = {card["id"]: card for card in items}
        assert cards[pictured["id"]]["images"] == expected, params
        assert cards[bare["id"]]["images"] == [], params


@pytest.mark.parametrize(
    ("data", "filename", "declared"),
    [
        pytest.param(
            b"just some text, honestly\n" * 4, "photo.jpg", "image/jpeg", id="text-as-jpg"
        ),
        pytest.param(b"GIF89a" + bytes(64), "anim.gif", "image/gif", id="gif"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.png", "image/png", id="svg"),
        pytest.param(b"RIFF\x00\x00\x00\x00WAVEfmt ", "x.webp", "image/webp", id="riff-not-webp"),
        pytest.param(b"", "empty.png", "image/png", id="empty"),
    ],
)
async def test_a_file_that_is_not_an_image_is_415(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    category_id: str,
    data: bytes,
    filename: str,
    declared: str,
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)

    response = await _upload(client, seller, listing["id"], data, filename, declared)

    assert_problem(response, 415, "unsupported_image_type")
    assert (await get_listing(client, listing_id=listing["id"], who=seller)).json()["images"] == []


async def test_an_upload_that_is_not_multipart_is_422(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)
    url = f"{LISTINGS}/{listing['id']}/images"

    as_json = await client.post(url, json={"file": "aGVsbG8="}, headers=seller.headers)
    raw = await client.post(
        url, content=PNG_1X1, headers={**seller.headers, "Content-Type": "image/png"}
    )
    nothing = await client.post(url, headers=seller.headers)
    wrong_field = await client.post(
        url, files={"image": ("x.png", PNG_1X1, "image/png")}, headers=seller.headers
    )

    for response in (as_json, raw, nothing, wrong_field):
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"]
    assert (await get_listing(client, listing_id=listing["id"], who=seller)).json()["images"] == []


async def test_an_image_over_the_size_limit_is_413(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    async with client_with(
        database, make_settings(settings.database_url, max_image_bytes=2048)
    ) as small:
        admin = await admin_user(small, session)
        seller, _ = await approved_seller(small, session, admin=admin)
        listing = await create_listing(
            small, seller=seller, category_id=await leaf_category(small, admin=admin)
        )
        at_limit = png_of_size(2048)
        over_limit = png_of_size(3000)

        too_large = await _upload(small, seller, listing["id"], over_limit)
        just_fits = await _upload(small, seller, listing["id"], at_limit)

        assert_problem(too_large, 413, "image_too_large")
        assert just_fits.status_code == 201, just_fits.text
        [image] = just_fits.json()["images"]
        assert image["size_bytes"] == 2048


async def test_more_images_than_allowed_is_409(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    async with client_with(
        database, make_settings(settings.database_url, max_images_per_listing=2)
    ) as app:
        admin = await admin_user(app, session)
        seller, _ = await approved_seller(app, session, admin=admin)
        listing = await create_listing(
            app, seller=seller, category_id=await leaf_category(app, admin=admin)
        )
        for data in (PNG_1X1, JPEG_BYTES):
            assert (await _upload(app, seller, listing["id"], data)).status_code == 201

        third = await _upload(app, seller, listing["id"], WEBP_BYTES)

        assert_problem(third, 409, "too_many_images")
        images = (await get_listing(app, listing_id=listing["id"], who=seller)).json()["images"]
        assert [i["content_type"] for i in images] == ["image/png", "image/jpeg"]

        # Deleting one makes room again.
        deleted = await app.delete(
            f"{LISTINGS}/{listing['id']}/images/{images[0]['id']}", headers=seller.headers
        )
        assert deleted.status_code == 204, deleted.text
        assert (await _upload(app, seller, listing["id"], WEBP_BYTES)).status_code == 201


async def test_delete_an_image(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)
    first = await _upload(client, seller, listing["id"], PNG_1X1)
    second = await _upload(client, seller, listing["id"], JPEG_BYTES)
    assert second.status_code == 201, second.text
    kept, gone = second.json()["images"][1], first.json()["images"][0]

    response = await client.delete(
        f"{LISTINGS}/{listing['id']}/images/{gone['id']}", headers=seller.headers
    )

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert (await get_listing(client, listing_id=listing["id"], who=seller)).json()["images"] == [
        kept
    ]
    assert (await client.get(gone["url"])).status_code == 404
    assert (await client.get(kept["url"])).content == JPEG_BYTES
    again = await client.delete(
        f"{LISTINGS}/{listing['id']}/images/{gone['id']}", headers=seller.headers
    )
    assert_problem(again, 404, "not_found")


@pytest.mark.parametrize("who", ["other_seller", "buyer", "anonymous"])
async def test_only_the_owner_deletes_an_image(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    other_seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
    who: str,
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    uploaded = await _upload(client, seller, listing["id"], PNG_1X1)
    [image] = uploaded.json()["images"]
    headers = {"other_seller": other_seller.headers, "buyer": buyer.headers, "anonymous": {}}[who]

    response = await client.delete(
        f"{LISTINGS}/{listing['id']}/images/{image['id']}", headers=headers
    )

    expected: dict[str, tuple[int, str]] = {
        "other_seller": (404, "not_found"),
        "buyer": (403, "seller_required"),
        "anonymous": (401, "invalid_token"),
    }
    assert_problem(response, *expected[who])
    assert (await get_listing(client, listing_id=listing["id"])).json()["images"] == [image]


async def test_an_image_of_another_listing_is_not_found(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    first = await create_listing(client, seller=seller, category_id=category_id)
    second = await create_listing(client, seller=seller, category_id=category_id)
    [image] = (await _upload(client, seller, first["id"], PNG_1X1)).json()["images"]

    wrong_listing = await client.delete(
        f"{LISTINGS}/{second['id']}/images/{image['id']}", headers=seller.headers
    )
    unknown = await client.delete(
        f"{LISTINGS}/{first['id']}/images/{uuid.uuid4()}", headers=seller.headers
    )

    assert_problem(wrong_listing, 404, "not_found")
    assert_problem(unknown, 404, "not_found")
    images: list[Json] = (await get_listing(client, listing_id=first["id"], who=seller)).json()[
        "images"
    ]
    assert images == [image]


@pytest.mark.parametrize("who", ["buyer", "anonymous"])
async def test_non_sellers_cannot_upload(
    client: httpx.AsyncClient, seller: LoggedIn, buyer: LoggedIn, category_id: str, who: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    headers = buyer.headers if who == "buyer" else {}

    response = await client.post(
        f"{LISTINGS}/{listing['id']}/images",
        files={"file": ("x.png", PNG_1X1, "image/png")},
        headers=headers,
    )

    if who == "buyer":
        assert_problem(response, 403, "seller_required")
    else:
        assert_problem(response, 401, "invalid_token")
    assert (await get_listing(client, listing_id=listing["id"])).json()["images"] == []
