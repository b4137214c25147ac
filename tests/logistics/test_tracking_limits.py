"""What a parcel's scans may not do: count a partly sent order as delivered, come from the
future or from before the order shipped, sign with any header a client makes up, or (in
production) come from the sandbox carrier at all."""

import json
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import DEV_SANDBOX_TRACKING_SECRET, Environment, Settings
from app.core import signing
from app.core.clock import now
from app.core.db import Database
from tests.factories.accounts import login
from tests.factories.api import assert_problem, parse_time
from tests.factories.apps import PRODUCTION_MAIL_AND_TOTP, client_with, make_settings
from tests.factories.disputes import completed_order, post_return, return_step, step_ok
from tests.factories.orders import get_order, market, paid_order
from tests.factories.payments import reconcile_ok
from tests.logistics.parcels import post_ship, post_tracking_event, tracking_event

STRONG_JWT_SECRET = "pQ7-wN3xL8vR2zK5mT9bY4cH6jF1sD0gA8eU3iO5rW2"
SECRET = DEV_SANDBOX_TRACKING_SECRET


async def test_a_part_of_an_order_never_sent_keeps_it_undelivered(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, quantity=5)
    (line,) = order["lines"]

    shipped = await post_ship(
        client,
        who=m.seller,
        order_id=order["id"],
        tracking_number="SBX00000001-DELIVERED-0",
        lines=[{"order_line_id": line["id"], "quantity": 1}],
    )

    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["delivered_at"] is None  # one unit of five arrived
    expected = parse_time(body["shipped_at"]) + settings.auto_complete_fallback
    assert parse_time(body["auto_complete_at"]) == expected
    await reconcile_ok(client, admin=m.admin)


async def test_a_scan_from_the_future_is_refused_and_one_from_long_ago_counts_from_shipping(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    number = "SBX00000004-SILENT"
    assert (
        await post_ship(client, who=m.seller, order_id=order["id"], tracking_number=number)
    ).status_code == 200

    future = await post_tracking_event(
        client, tracking_event(number, "delivered", "9999-12-31T23:59:59Z")
    )
    ancient = await post_tracking_event(
        client, tracking_event(number, "delivered", "0001-01-01T00:00:00Z")
    )

    assert_problem(future, 422, "invalid_tracking_event")
    assert ancient.status_code == 200, ancient.text
    assert ancient.json() == {"applied": 1}
    seen = await get_order(client, who=m.buyer, order_id=order["id"])
    due = parse_time(seen["shipped_at"]) + settings.auto_complete_after
    assert parse_time(seen["auto_complete_at"]) == due  # not 14 days after year 1
    await reconcile_ok(client, admin=m.admin)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("²", None),  # a Unicode digit
        ("9" * 5000, None),  # more digits than int() takes
        (None, "v1,\u00e9abc"),  # not ASCII
        ("", None),
    ],
    ids=["unicode-digit", "huge", "non-ascii-signature", "empty"],
)
async def test_made_up_signature_headers_are_refused_not_a_server_error(
    client: httpx.AsyncClient, timestamp: str | None, signature: str | None
) -> None:
    body = b'{"id": "e1"}'
    stamp = str(int(now().timestamp()))
    headers = {
        "content-type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp if timestamp is None else timestamp,
        "webhook-signature": signature or signing.signature(SECRET, "msg_1", int(stamp), body),
    }

    assert (
        signing.verify(
            SECRET,
            message_id="msg_1",
            timestamp=headers["webhook-timestamp"],
            signatures=headers["webhook-signature"],
            body=body,
            now=int(stamp),
            tolerance=300,
        )
        is False
    )
    event = tracking_event("SBX00000001-SILENT", "delivered", now().isoformat())
    response = await client.post(
        "/v1/logistics/webhooks/sandbox",
        content=json.dumps(event).encode(),
        headers={name: value.encode() for name, value in headers.items()},
    )
    assert_problem(response, 401, "invalid_signature")


async def test_a_return_may_not_travel_under_the_outbound_parcels_number(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    return_id = (await post_return(client, who=m.buyer, order=order)).json()["id"]
    await step_ok(client, who=m.seller, return_id=return_id, step="approve")

    reused = await return_step(
        client,
        who=m.buyer,
        return_id=return_id,
        step="ship-back",
        body={"carrier": order["carrier"], "tracking_number": order["tracking_number"]},
    )

    assert order["carrier"] == "sandbox"
    # Sandbox numbers may be shared between orders, never between a parcel and its return.
    assert_problem(reused, 409, "tracking_number_in_use")
    still = await client.get(f"/v1/returns/{return_id}", headers=m.buyer.headers)
    assert still.json()["status"] == "approved"


def _production(settings: Settings, **overrides: object) -> Settings:
    return make_settings(
        "postgresql+asyncpg://marketplace@db.invalid/marketplace",
        environment="production",
        jwt_secret=STRONG_JWT_SECRET,
        password_hash_memory_kib=19 * 1024,
        **{**PRODUCTION_MAIL_AND_TOTP, **overrides},
    )


async def test_production_has_no_sandbox_carrier(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    production = _production(settings)
    assert production.environment is Environment.production
    assert production.tracking_webhook_secret("sandbox") is None

    async with client_with(database, production) as live:
        listed = await live.get("/v1/carriers")
        seller = await login(live, email=m.seller.email)
        refused = await live.post(
            f"/v1/orders/{order['id']}/ship",
            json={"carrier": "sandbox", "tracking_number": "SBX00000001-DELIVERED-0"},
            headers=seller.headers,
        )
        pushed = await post_tracking_event(
            live, tracking_event("SBX00000001-SILENT", "delivered", now().isoformat())
        )

    codes = [carrier["code"] for carrier in listed.json()]
    assert "sandbox" not in codes
    assert "ups" in codes
    assert_problem(refused, 422, "unknown_carrier")
    assert_problem(pushed, 404, "not_found")
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "paid"


def test_tracking_secrets_must_be_keys_and_production_refuses_the_public_one(
    settings: Settings,
) -> None:
    with pytest.raises(ValidationError, match="whsec_"):
        make_settings(settings.database_url, tracking_webhook_secrets={"acme": "hunter2"})
    with pytest.raises(ValidationError, match="public development secret"):
        _production(settings, tracking_webhook_secrets={"acme": SECRET})
    accepted = make_settings(
        settings.database_url, tracking_webhook_secrets={"acme": signing.new_secret()}
    )
    assert accepted.tracking_webhook_secret("acme") is not None
    assert accepted.tracking_webhook_secret("other") is None


async def test_the_refund_wait_restarts_with_each_new_scan(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    number = "SBX00000005-SILENT"
    await post_ship(client, who=m.seller, order_id=order["id"], tracking_number=number)
    first = now()
    await post_tracking_event(client, tracking_event(number, "exception", first.isoformat()))
    waiting = (await get_order(client, who=m.buyer, order_id=order["id"]))["auto_refund_at"]

    later = first + timedelta(minutes=1)
    await post_tracking_event(
        client, tracking_event(number, "returned_to_sender", later.isoformat())
    )
    restarted = (await get_order(client, who=m.buyer, order_id=order["id"]))["auto_refund_at"]

    assert parse_time(restarted) >= parse_time(waiting)
    assert abs(parse_time(restarted) - (now() + settings.undelivered_refund_after)) < timedelta(
        seconds=5
    )
