"""Parcels through the HTTP API: shipping under a given carrier and number, the order's
parcels, the carriers' signed events, and the worker asking the sandbox provider."""

import json
import uuid
from typing import Any

import httpx

from app.config import DEV_SANDBOX_TRACKING_SECRET, Settings
from app.core import signing
from app.core.clock import now
from app.core.db import Database
from app.payments.provider import SandboxProvider
from app.worker.runner import JOBS, WorkerContext, run_once
from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok

ORDERS = "/v1/orders"
SHIPMENTS = "/v1/shipments"
# The registry's UPS example (app/shipping/data/carriers.json): a valid check digit.
UPS_EXAMPLE = "1Z999AA10123456784"


async def post_ship(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    order_id: str,
    tracking_number: str,
    carrier: str = "sandbox",
    carrier_name: str | None = None,
    lines: list[Json] | None = None,
) -> httpx.Response:
    body: Json = {"carrier": carrier, "tracking_number": tracking_number}
    if carrier_name is not None:
        body["carrier_name"] = carrier_name
    if lines is not None:
        body["lines"] = lines
    return await client.post(f"{ORDERS}/{order_id}/ship", json=body, headers=who.headers)


async def post_parcel(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    order_id: str,
    tracking_number: str,
    carrier: str = "sandbox",
    lines: list[Json] | None = None,
) -> httpx.Response:
    body: Json = {"carrier": carrier, "tracking_number": tracking_number}
    if lines is not None:
        body["lines"] = lines
    return await client.post(f"{ORDERS}/{order_id}/shipments", json=body, headers=who.headers)


async def patch_parcel(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    shipment_id: str,
    tracking_number: str,
    carrier: str = "sandbox",
) -> httpx.Response:
    return await client.patch(
        f"{SHIPMENTS}/{shipment_id}",
        json={"carrier": carrier, "tracking_number": tracking_number},
        headers=who.headers,
    )


async def parcels(client: httpx.AsyncClient, *, who: LoggedIn, order_id: str) -> list[Json]:
    found: list[Json] = json_ok(
        await client.get(f"{ORDERS}/{order_id}/shipments", headers=who.headers)
    )
    return found


async def parcel(client: httpx.AsyncClient, *, who: LoggedIn, shipment_id: str) -> Json:
    found: Json = json_ok(await client.get(f"{SHIPMENTS}/{shipment_id}", headers=who.headers))
    return found


async def poll_shipments(database: Database, settings: Settings) -> int:
    """The worker's `poll_shipments` job alone: how many orders it asked about."""
    context = WorkerContext(database, settings, SandboxProvider())
    done = await run_once(context, {"poll_shipments": JOBS["poll_shipments"]})
    assert done["poll_shipments"] >= 0, done  # the job did not crash
    return done["poll_shipments"]


def tracking_event(tracking_number: str, status: str, occurred_at: str, **extra: Any) -> Json:
    """A carrier event as a provider pushes it, with a fresh event id."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "carrier": "sandbox",
        "tracking_number": tracking_number,
        "status": status,
        "occurred_at": occurred_at,
        **extra,
    }


async def post_tracking_event(
    client: httpx.AsyncClient,
    event: Json,
    *,
    provider: str = "sandbox",
    secret: str = DEV_SANDBOX_TRACKING_SECRET,
    timestamp: int | None = None,
    message_id: str | None = None,
) -> httpx.Response:
    """The event signed as Standard Webhooks do, stamped with the app's clock unless told."""
    body = json.dumps(event).encode()
    stamp = int(now().timestamp()) if timestamp is None else timestamp
    msg_id = message_id or f"msg_{uuid.uuid4().hex}"
    return await client.post(
        f"/v1/logistics/webhooks/{provider}",
        content=body,
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signing.signature(secret, msg_id, stamp, body),
        },
    )
