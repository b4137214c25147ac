"""The floor bench_reads.py measures the API against: a bare ASGI app (uvicorn + asyncpg, no
framework, no ORM, no validation) answering `GET /v1/listings/{id}` and a first page of
`GET /v1/listings?q=<word>` with the API's own SQL and the API's JSON (and, for the listing,
its ETag), byte for byte.

It is not run by hand: bench_reads.py captures the statements the API sends for one sample
of each request (text and parameters), writes them with what the answers are made from (the
public base URL of media, the ETag key, the connection settings) to a JSON file, and starts
`uvicorn raw_reads_app:app` with RAW_READS_CONFIG naming that file. Each captured parameter
is either a constant or the sample's listing id or search word spliced into a template, and
is filled in from the request.
"""

import base64
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import asyncpg

LISTING_PREFIX = "/v1/listings/"
SEARCH_PATH = "/v1/listings"
# What a listing's page row holds besides the listing's own columns (see
# ListingRepository.get_page): the ETag covers only the listing's.
PAGE_EXTRAS = ("shop_name", "slug", "shop_status", "images")


@dataclass(frozen=True)
class Parameter:
    """A captured parameter: `value` as sent, or (`source` set) the request's listing id
    ("id") or search word ("q") put in place of the sample's (a NUL) in `template`."""

    value: Any = None
    source: str | None = None
    template: str = ""
    as_uuid: bool = False

    def fill(self, request_value: str) -> Any:
        if self.source is None:
            return self.value
        if self.as_uuid:
            return uuid.UUID(request_value)
        return self.template.replace("\0", request_value)


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: tuple[Parameter, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Statement":
        return cls(data["sql"], tuple(Parameter(**p) for p in data["parameters"]))


@dataclass(frozen=True)
class Config:
    """What bench_reads.py hands over, as JSON (see its `baseline_config`)."""

    dsn: str
    server_settings: dict[str, str]
    pool_size: int
    media_base_url: str
    """The API's public URL + /media: image URLs are absolute under it."""
    jwt_secret: str
    """The API's secret, from which its entity tags' key is derived (see app.core.etag)."""
    listing: tuple[Statement, ...]
    search: tuple[Statement, ...]
    search_sort: str
    """The sort a search with only `q` uses (relevance): it names the cursor."""
    page_size: int
    count_cap: int
    """SEARCH_COUNT_CAP: `total` counts up to it."""

    @classmethod
    def load(cls, path: Path) -> "Config":
        data = json.loads(path.read_text())
        data["listing"] = tuple(map(Statement.from_json, data["listing"]))
        data["search"] = tuple(map(Statement.from_json, data["search"]))
        return cls(**data)


CONFIG: Config
_etag_key = b""
_pool: asyncpg.Pool | None = None


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _image(image: dict[str, Any]) -> dict[str, Any]:
    original = f"{CONFIG.media_base_url}/{image['storage_key']}"
    thumbnail, medium = image["thumbnail_key"], image["medium_key"]
    return {
        "id": image["id"],
        "url": original,
        "urls": {
            "thumbnail": f"{CONFIG.media_base_url}/{thumbnail}" if thumbnail else original,
            "medium": f"{CONFIG.media_base_url}/{medium}" if medium else original,
            "original": original,
        },
        "alt_text": image["alt_text"],
        "width": image["width"],
        "height": image["height"],
        "content_type": image["content_type"],
        "size_bytes": image["size_bytes"],
        "position": image["position"],
    }


def _card(
    row: asyncpg.Record, attributes: Any, *, status: str, for_sale: bool, images: bool = True
) -> dict[str, Any]:
    """A listing as ListingPublic serialises it (its fields in its order)."""
    currency = row["currency"]
    return {
        "id": str(row["id"]),
        "seller": {"id": str(row["seller_id"]), "shop_name": row["shop_name"], "slug": row["slug"]},
        "category_id": str(row["category_id"]),
        "title": row["title"],
        "description": row["description"],
        "price": _money(row["price_amount"], currency),
        "shipping_fee": _money(row["shipping_fee_amount"], currency),
        "quantity": row["quantity"],
        "condition": row["condition"],
        "attributes": attributes,
        "handling_days": row["handling_days"],
        "for_sale": for_sale,
        "images": [
            _image(image)
            for image in sorted(
                json.loads(row["images"] or "[]"), key=lambda i: (i["position"], i["id"])
            )
        ]
        if images
        else [],  # a removed listing withholds them
        "published_at": _time(row["published_at"]),
        "created_at": _time(row["created_at"]),
        "updated_at": _time(row["updated_at"]),
        "status": status,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _public_status(status: str, shop: str) -> str:
    if status == "removed":
        return "removed"
    if shop == "closed":
        return "shop_closed"
    if shop != "approved":
        return "shop_suspended"
    return status


def _etag(representation: str, state: dict[str, Any]) -> str:
    mac = hmac.new(_etag_key, digestmod=hashlib.sha256)
    mac.update(representation.encode())
    mac.update(b"\0")
    mac.update(json.dumps(state, sort_keys=True, default=str).encode())
    return '"' + base64.urlsafe_b64encode(mac.digest()[:18]).decode() + '"'


async def _fetch(
    connection: asyncpg.Connection, statement: Statement, value: str
) -> list[asyncpg.Record]:
    arguments = [parameter.fill(value) for parameter in statement.parameters]
    rows: list[asyncpg.Record] = await connection.fetch(statement.sql, *arguments)
    return rows


async def listing_page(listing_id: str) -> tuple[int, str, list[tuple[bytes, bytes]]]:
    try:
        uuid.UUID(listing_id)
    except ValueError:
        return 422, "{}", []
    assert _pool is not None
    async with _pool.acquire() as connection:
        (statement,) = CONFIG.listing
        rows = await _fetch(connection, statement, listing_id)
    if not rows:
        return 404, "{}", []
    row = rows[0]
    attributes = json.loads(row["attributes"])
    removed = row["status"] == "removed"
    view = _card(
        row,
        attributes,
        status=_public_status(row["status"], row["shop_status"]),
        for_sale=row["status"] == "active" and row["seller_approved"],
        images=not removed,
    )
    if removed:
        view["description"] = ""
    representation = _dumps(view)
    state = {key: value for key, value in row.items() if key not in PAGE_EXTRAS}
    state["attributes"] = attributes
    return 200, representation, [(b"etag", _etag(representation, state).encode())]


def _cursor(tag: str, values: list[Any]) -> str:
    encoded = [
        {"u": str(v)}
        if isinstance(v, uuid.UUID)
        else {"t": v.isoformat()}
        if isinstance(v, datetime)
        else v
        for v in values
    ]
    raw = json.dumps([tag, *encoded], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def search(word: str) -> tuple[int, str, list[tuple[bytes, bytes]]]:
    assert _pool is not None
    async with _pool.acquire() as connection:
        results = [await _fetch(connection, s, word) for s in CONFIG.search]
    page_rows, count_rows = results
    limit, cap = CONFIG.page_size, CONFIG.count_cap
    keys = (
        [key for key, _ in page_rows[0].items() if key.startswith("_page_key_")]
        if page_rows
        else []
    )
    next_cursor = (
        _cursor(CONFIG.search_sort, [page_rows[limit - 1][k] for k in keys])
        if len(page_rows) > limit
        else None
    )
    total = count_rows[0][0]
    page = {
        "items": [
            _card(row, json.loads(row["attributes"]), status="active", for_sale=True)
            for row in page_rows[:limit]
        ],
        "next_cursor": next_cursor,
        "total": min(total, cap),
        "total_capped": total > cap,
        "facets": None,
    }
    return 200, _dumps(page), []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global CONFIG, _etag_key, _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                CONFIG = Config.load(Path(os.environ["RAW_READS_CONFIG"]))
                _etag_key = hmac.new(
                    CONFIG.jwt_secret.encode(), b"marketplace entity tag v1", hashlib.sha256
                ).digest()
                _pool = await asyncpg.create_pool(
                    CONFIG.dsn,
                    min_size=CONFIG.pool_size,
                    max_size=CONFIG.pool_size,
                    server_settings=CONFIG.server_settings,
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    if path.startswith(LISTING_PREFIX):
        status, body, headers = await listing_page(path[len(LISTING_PREFIX) :])
    elif path == SEARCH_PATH:
        words = parse_qs(scope["query_string"].decode()).get("q")
        status, body, headers = await search(words[0]) if words else (422, "{}", [])
    elif path == "/readyz":
        status, body, headers = 200, "{}", []
    else:
        status, body, headers = 404, "{}", []
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
