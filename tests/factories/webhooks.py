"""A seller's webhook endpoints and the deliveries made to them."""

from typing import Any

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, only_page

WEBHOOKS = "/v1/webhooks"
EVENT_TYPES_PATH = f"{WEBHOOKS}/event-types"
ENDPOINTS = f"{WEBHOOKS}/endpoints"
DELIVERIES = f"{WEBHOOKS}/deliveries"


async def post_endpoint(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    url: str,
    event_types: list[str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body: Json = {"url": url, "event_types": event_types or ["order.created"], **extra}
    return await client.post(ENDPOINTS, json=body, headers=who.headers)


async def create_endpoint(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    url: str,
    event_types: list[str] | None = None,
    **extra: Any,
) -> Json:
    endpoint: Json = json_ok(
        await post_endpoint(client, who=who, url=url, event_types=event_types, **extra), 201
    )
    assert endpoint["secret"].startswith("whsec_")
    return endpoint


async def get_endpoint(client: httpx.AsyncClient, *, who: LoggedIn, endpoint_id: str) -> Json:
    found: Json = json_ok(await client.get(f"{ENDPOINTS}/{endpoint_id}", headers=who.headers))
    return found


async def patch_endpoint(
    client: httpx.AsyncClient, *, who: LoggedIn, endpoint_id: str, **changes: Any
) -> httpx.Response:
    return await client.patch(f"{ENDPOINTS}/{endpoint_id}", json=changes, headers=who.headers)


async def list_deliveries(client: httpx.AsyncClient, *, who: LoggedIn, **params: str) -> list[Json]:
    return only_page(
        await client.get(DELIVERIES, params={"limit": 100, **params}, headers=who.headers)
    )
