"""Issue 15: listing images have absolute URLs, sizes made on upload (upright, without
metadata), alt text, and an order the seller can change."""

import io
import re
import struct
import uuid
import zlib

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import service as catalog_service
from app.catalog import views
from app.core.storage import LocalDiskStorage
from tests.factories.accounts import LoggedIn
from tests.factories.api import assert_problem, json_ok
from tests.factories.apps import MEDIA_DIR
from tests.factories.catalog import LISTINGS, PNG_1X1, create_listing, get_listing, live_listing

EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F
ROTATED_90_CW = 6  # the camera was turned: display the stored pixels turned 90° clockwise


def _photo(width: int, height: int, *, orientation: int | None = None) -> bytes:
    """A JPEG of `width` x `height` stored pixels, with an EXIF orientation and camera tag."""
    image = Image.new("RGB", (width, height), (20, 120, 200))
    exif = Image.Exif()
    exif[EXIF_MAKE] = "Acme Camera Co."
    if orientation is not None:
        exif[EXIF_ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _bomb_png(side: int) -> bytes:
    """A tiny PNG whose header declares a `side` x `side` canvas (no real pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


async def _upload(
    client: httpx.AsyncClient, seller: LoggedIn, listing_id: str, data: bytes, **form: str
) -> httpx.Response:
    return await client.post(
        f"{LISTINGS}/{listing_id}/images",
        files={"file": ("photo.jpg", data, "image/jpeg")},
        data=form,
        headers=seller.headers,
    )


async def test_an_upload_gets_absolute_urls_of_upright_sizes_without_metadata(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    photo = _photo(1600, 1200, orientation=ROTATED_90_CW)

    uploaded = json_ok(
        await _upload(client, seller, listing["id"], photo, alt_text="Mug, handle left"), 201
    )

    [image] = uploaded["images"]
    assert image["alt_text"] == "Mug, handle left"
    assert (image["width"], image["height"]) == (1200, 1600)  # as displayed: upright
    assert image["url"] == image["urls"]["original"]
    for url in image["urls"].values():
        assert re.fullmatch(r"http://testserver/media/listings/[0-9a-f-]+/[\w.-]+", url), url
    original = await client.get(image["urls"]["original"])
    assert original.content == photo  # kept byte for byte
    for size, longest in (("thumbnail", 320), ("medium", 1024)):
        served = await client.get(image["urls"][size])
        assert served.status_code == 200
        derived = Image.open(io.BytesIO(served.content))
        assert derived.format == "JPEG"
        assert derived.size == (longest * 3 // 4, longest), size  # turned upright, scaled
        assert not derived.getexif(), size  # no orientation left to apply, no camera
        assert "exif" not in derived.info
        assert b"Acme" not in served.content
    public = json_ok(await get_listing(client, listing_id=listing["id"]))
    assert public["images"] == [image]
    [card] = json_ok(await client.get(LISTINGS, params={"seller": listing["seller"]["id"]}))[
        "items"
    ]
    assert card["images"] == [image]


async def test_a_small_image_is_never_enlarged(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)

    [image] = json_ok(await _upload(client, seller, listing["id"], PNG_1X1), 201)["images"]

    assert (image["width"], image["height"], image["alt_text"]) == (1, 1, "")
    thumbnail = Image.open(io.BytesIO((await client.get(image["urls"]["thumbnail"])).content))
    assert (thumbnail.format, thumbnail.size) == ("PNG", (1, 1))


async def test_a_decompression_bomb_is_refused_before_decoding(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)

    bomb = await _upload(client, seller, listing["id"], _bomb_png(100_000))
    broken = await _upload(client, seller, listing["id"], b"\xff\xd8\xff\xe0" + bytes(300))

    assert_problem(bomb, 413, "image_too_large")
    assert_problem(broken, 415, "unsupported_image_type")
    own = json_ok(
        await client.get(f"/v1/sellers/me/listings/{listing['id']}", headers=seller.headers)
    )
    assert own["images"] == []


async def test_the_seller_describes_and_reorders_images(
    client: httpx.AsyncClient, seller: LoggedIn, other_seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    for _ in range(3):
        json_ok(await _upload(client, seller, listing["id"], PNG_1X1), 201)
    own_url = f"/v1/sellers/me/listings/{listing['id']}"
    read = await client.get(own_url, headers=seller.headers)
    first, second, third = (i["id"] for i in json_ok(read)["images"])
    tag = read.headers["etag"]

    moved = await client.patch(
        f"{LISTINGS}/{listing['id']}/images/{third}",
        json={"position": 0, "alt_text": "The box"},
        headers={**seller.headers, "If-Match": tag},
    )
    stale = await client.patch(
        f"{LISTINGS}/{listing['id']}/images/{first}",
        json={"position": 2},
        headers={**seller.headers, "If-Match": tag},
    )
    stranger = await client.patch(
        f"{LISTINGS}/{listing['id']}/images/{first}",
        json={"alt_text": "Mine"},
        headers=other_seller.headers,
    )
    null = await client.patch(
        f"{LISTINGS}/{listing['id']}/images/{first}",
        json={"alt_text": None},
        headers=seller.headers,
    )

    images = json_ok(moved)["images"]
    assert [(i["id"], i["position"]) for i in images] == [(third, 0), (first, 1), (second, 2)]
    assert images[0]["alt_text"] == "The box"
    assert moved.headers["etag"] != tag
    assert_problem(stale, 412, "precondition_failed")
    assert_problem(stranger, 404, "not_found")
    assert_problem(null, 422, "validation_error")
    public = json_ok(await get_listing(client, listing_id=listing["id"]))
    assert [i["id"] for i in public["images"]] == [third, first, second]


async def test_other_screens_get_the_first_images_thumbnail(
    client: httpx.AsyncClient, session: AsyncSession, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    storage = LocalDiskStorage(MEDIA_DIR, "http://testserver")
    bare = (await catalog_service.many(session, [uuid.UUID(listing["id"])]))[
        uuid.UUID(listing["id"])
    ]
    assert views.thumbnail_url(bare, storage) is None
    for _ in range(2):
        json_ok(await _upload(client, seller, listing["id"], PNG_1X1), 201)
    [first, _second] = json_ok(await get_listing(client, listing_id=listing["id"]))["images"]

    session.expire_all()
    pictured = (await catalog_service.many(session, [uuid.UUID(listing["id"])]))[
        uuid.UUID(listing["id"])
    ]

    assert views.thumbnail_url(pictured, storage) == first["urls"]["thumbnail"]
