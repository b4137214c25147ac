"""Favourites and saved searches, made through the HTTP API as a buyer would, and the
worker's sweep after the watermarks' settling time."""

from datetime import timedelta
from typing import Any

import httpx

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.watchlists.tasks import SETTLE
from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok
from tests.factories.worker import sweep

FAVOURITES = "/v1/me/favourites"
SAVED_SEARCHES = "/v1/me/saved-searches"


async def post_favourite(
    client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str
) -> httpx.Response:
    return await client.post(FAVOURITES, json={"listing_id": listing_id}, headers=who.headers)


async def favourite(client: httpx.AsyncClient, *, who: LoggedIn, listing_id: str) -> Json:
    created: Json = json_ok(await post_favourite(client, who=who, listing_id=listing_id), 201)
    return created


async def post_saved_search(
    client: httpx.AsyncClient, *, who: LoggedIn, **body: Any
) -> httpx.Response:
    return await client.post(
        SAVED_SEARCHES, json={"name": "My search", **body}, headers=who.headers
    )


async def save_search(client: httpx.AsyncClient, *, who: LoggedIn, **body: Any) -> Json:
    created: Json = json_ok(await post_saved_search(client, who=who, **body), 201)
    return created


async def settled_sweep(database: Database, settings: Settings) -> dict[str, int]:
    """The clock moved past the watermarks' settling time, then one worker sweep."""
    clock.advance(SETTLE + timedelta(seconds=1))
    return await sweep(database, settings)
