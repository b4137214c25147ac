"""Seller webhooks: endpoint CRUD and its one-time secret, the SSRF guard at registration and
before each request, signed delivery of outbox events by the worker (Standard Webhooks),
retries with doubling backoff, timeouts that hold up nobody else, redirects not followed,
disabling after the last attempt, redelivery with the same `webhook-id`, the delivery log,
and deliveries written in the transaction of their event.

Receivers are real HTTP servers on 127.0.0.1 (`tests/integration/harness.py`); the app's own
test settings allow such private targets, the SSRF tests build settings that do not."""

import asyncio
import base64
import ipaddress
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Self

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Environment, Settings
from app.core.clock import clock
from app.core.db import Database
from app.core.outbox import OutboxEvent, emit
from app.messaging.events import WEBHOOK_EVENT_TYPES
from app.messaging.notifications.models import Notification
from app.messaging.webhooks import delivery as delivery_module
from app.messaging.webhooks import service as webhooks_service
from app.messaging.webhooks import targets as targets_module
from app.messaging.webhooks.delivery import Outcome, Outgoing
from app.messaging.webhooks.exceptions import WebhookUrlNotAllowed
from app.messaging.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.messaging.webhooks.targets import check_target
from app.messaging.webhooks.tasks import deliver_due_webhooks
from tests.core.conditional import (
    assert_conditional_edits,
    assert_conditional_reads,
    assert_one_of_two_editors_wins,
    etag_of,
)
from tests.core.conditional import patch as conditional_patch
from tests.core.conditional import read as conditional_read
from tests.factories.accounts import LoggedIn, create_user, login, register_and_login, relogin
from tests.factories.api import Json, assert_problem, json_ok, parse_time
from tests.factories.apps import PRODUCTION_MAIL_AND_TOTP, client_with, make_settings
from tests.factories.catalog import listing_for_sale
from tests.factories.orders import Market, checkout, market, pay, relogin_market, ship, unpaid_order
from tests.factories.sellers import approved_seller
from tests.factories.webhooks import (
    DELIVERIES,
    ENDPOINTS,
    EVENT_TYPES_PATH,
    create_endpoint,
    get_endpoint,
    list_deliveries,
    patch_endpoint,
    post_endpoint,
)
from tests.factories.worker import sweep
from tests.integration.harness import (
    ReceivedRequest,
    WebhookReceiver,
    WebhookVerificationError,
    sign,
    verify,
)

STRONG_JWT_SECRET = "kV9-rL2qT7sW4yB1nM6pX3cZ8aF5dH0jK2gE7uR4tY9"
PUBLIC_IPV4 = "93.184.215.14"  # a global address: allowed everywhere, no DNS needed
PUBLIC_IPV6 = "2606:4700:4700::1111"


# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def second_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def refusing_private(settings: Settings, **overrides: Any) -> Settings:
    """The app's settings, but refusing internal targets as production does."""
    return settings.model_copy(update={"webhook_allow_private_targets": False, **overrides})


def with_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update=overrides)


async def rotate(client: httpx.AsyncClient, who: LoggedIn, endpoint_id: str) -> Json:
    found: Json = json_ok(
        await client.post(f"{ENDPOINTS}/{endpoint_id}/rotate-secret", headers=who.headers)
    )
    return found


async def get_delivery(client: httpx.AsyncClient, who: LoggedIn, delivery_id: str) -> Json:
    found: Json = json_ok(await client.get(f"{DELIVERIES}/{delivery_id}", headers=who.headers))
    return found


async def post_redeliver(
    client: httpx.AsyncClient, who: LoggedIn, delivery_id: str
) -> httpx.Response:
    return await client.post(f"{DELIVERIES}/{delivery_id}/redeliver", headers=who.headers)


async def only_delivery(client: httpx.AsyncClient, who: LoggedIn, endpoint_id: str) -> Json:
    """The endpoint's one delivery, with its attempt log."""
    (listed,) = await list_deliveries(client, who=who, endpoint_id=endpoint_id)
    return await get_delivery(client, who, listed["id"])


async def market_with_an_order_for(
    client: httpx.AsyncClient, session: AsyncSession, receiver: WebhookReceiver
) -> tuple[Market, Json]:
    """A market whose seller has an endpoint at `receiver`, and one new order for it."""
    m = await market(client, session)
    endpoint = await create_endpoint(client, who=m.seller, url=receiver.url_for())
    await unpaid_order(client, market=m)
    return m, endpoint


async def claim_only(database: Database, settings: Settings) -> Outgoing:
    """What one claim (committed, as the worker's) leases: exactly one delivery."""
    async with database.session_scope() as claiming:
        (outgoing,) = await delivery_module.claim(claiming, settings)
    return outgoing


async def events_of(session: AsyncSession, seller_id: str) -> list[OutboxEvent]:
    rows = await session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.seller_id == uuid.UUID(seller_id))
        .order_by(OutboxEvent.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def count(session: AsyncSession, model: type[Any], *where: Any) -> int:
    total = await session.scalar(select(func.count()).select_from(model).where(*where))
    assert total is not None
    return int(total)


def verifies(secret: str, request: ReceivedRequest) -> bool:
    """The request is authentic for `secret`, judged at the test clock's now."""
    try:
        verify(secret, request.headers, request.body, now=clock.now().timestamp())
    except WebhookVerificationError:
        return False
    return True


def unix_now() -> str:
    return str(int(clock.now().timestamp()))


def expected_body(event: OutboxEvent) -> Json:
    return {
        "id": str(event.id),
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": event.data,
    }


def at(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


# --- endpoints ----------------------------------------------------------------------------------


async def test_event_types_are_the_catalogue(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    response = await client.get(EVENT_TYPES_PATH, headers=m.seller.headers)
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"type": e.value, "description": e.description} for e in WEBHOOK_EVENT_TYPES
    ]
    assert_problem(
        await client.get(EVENT_TYPES_PATH, headers=m.buyer.headers), 403, "seller_required"
    )


async def test_create_shows_the_secret_once_and_never_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.freeze()
    m = await market(client, session)
    created = await create_endpoint(
        client,
        who=m.seller,
        url="https://shop.example.com/hooks?token=abc",
        event_types=["order.paid", "order.created", "order.paid"],
        description="order sync",
    )
    secret = created.pop("secret")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert created == {
        "id": created["id"],
        "url": "https://shop.example.com/hooks?token=abc",
        "event_types": ["order.created", "order.paid"],  # de-duplicated and sorted
        "description": "order sync",
        "enabled": True,
        "disabled_reason": None,
        "previous_secret_until": None,
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }
    assert parse_time(created["created_at"]) == clock.now()

    assert await get_endpoint(client, who=m.seller, endpoint_id=created["id"]) == created
    listed = await client.get(ENDPOINTS, headers=m.seller.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [created], "next_cursor": None}
    assert secret not in listed.text

    # A second endpoint with its own secret; the list is newest first.
    second = await create_endpoint(client, who=m.seller, url="https://other.example.com/")
    assert second["secret"] != secret
    listed = await client.get(ENDPOINTS, headers=m.seller.headers)
    assert [e["id"] for e in listed.json()["items"]] == [second["id"], created["id"]]
    assert all("secret" not in e for e in listed.json()["items"])


async def test_rotating_the_secret_signs_with_both_until_the_overlap_ends(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    m = await market(client, session)
    endpoint = await create_endpoint(client, who=m.seller, url=receiver.url_for("/hooks"))
    old = endpoint["secret"]
    assert endpoint["previous_secret_until"] is None
    await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, settings) == 1
    (first,) = receiver.requests
    assert verifies(old, first)
    assert first.headers["webhook-signature"].count("v1,") == 1

    await unpaid_order(client, market=m)  # queued before the rotation, sent after it
    rotated = await rotate(client, m.seller, endpoint["id"])
    new = rotated.pop("secret")
    assert new.startswith("whsec_")
    assert new != old
    assert rotated["id"] == endpoint["id"]
    assert rotated["url"] == endpoint["url"]
    assert at(rotated["previous_secret_until"]) == clock.now() + settings.webhook_secret_overlap
    assert "secret" not in await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"])

    # During the overlap each request carries both signatures: either secret verifies.
    assert await deliver_due_webhooks(database, settings) == 1
    _, second = receiver.requests
    assert second.event_id != first.event_id
    assert verifies(new, second)
    assert verifies(old, second)
    timestamp = second.headers["webhook-timestamp"]
    assert second.headers["webhook-signature"] == " ".join(
        sign(secret, second.headers["webhook-id"], timestamp, second.body) for secret in (new, old)
    )

    # Afterwards only the new secret signs.
    clock.advance(settings.webhook_secret_overlap)
    m = await relogin_market(client, market=m)
    await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, settings) == 1
    third = receiver.requests[-1]
    assert verifies(new, third)
    assert not verifies(old, third)
    assert third.headers["webhook-signature"] == sign(
        new, third.headers["webhook-id"], third.headers["webhook-timestamp"], third.body
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://shop.example.com/", "event_types": ["order.exploded"]}, "event_types"),
        (
            {"url": "https://shop.example.com/", "event_types": ["order.paid", "nope"]},
            "event_types",
        ),
        ({"url": "https://shop.example.com/", "event_types": []}, "event_types"),
        ({"url": "https://shop.example.com/"}, "event_types"),
        ({"url": "ftp://shop.example.com/", "event_types": ["order.paid"]}, "url"),
        ({"url": "javascript:alert(1)", "event_types": ["order.paid"]}, "url"),
        ({"url": "shop.example.com/hooks", "event_types": ["order.paid"]}, "url"),
        ({"url": "https://" + "a" * 2050 + ".com/", "event_types": ["order.paid"]}, "url"),
        (
            {"url": "https://shop.example.com/", "event_types": ["order.paid"], "secret": "x"},
            "secret",
        ),
    ],
    ids=[
        "unknown-type",
        "one-unknown-type",
        "empty-types",
        "no-types",
        "ftp",
        "javascript",
        "no-scheme",
        "too-long",
        "own-secret",
    ],
)
async def test_invalid_endpoints_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, body: Json, field: str
) -> None:
    m = await market(client, session)
    problem = assert_problem(
        await client.post(ENDPOINTS, json=body, headers=m.seller.headers),
        422,
        "validation_error",
    )
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert any(field in error["loc"] for error in errors), errors
    listed = await client.get(ENDPOINTS, headers=m.seller.headers)
    assert listed.json()["items"] == []


async def test_the_spec_lists_the_event_types_of_the_registry(client: httpx.AsyncClient) -> None:
    """Found by the fuzzer: `event_types` were free strings in the spec, so any string was
    schema-valid and answered 422."""
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]

    for name in ("EndpointCreate", "EndpointUpdate"):
        event_types = schemas[name]["properties"]["event_types"]
        items = event_types["items"] if "items" in event_types else event_types["anyOf"][0]["items"]
        assert items["enum"] == [e.value for e in WEBHOOK_EVENT_TYPES], name


async def test_the_longest_url_the_spec_allows_is_accepted(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Found by the fuzzer: a URL of the spec's maximum length grew by its normalisation (a
    trailing slash) past the limit and was refused."""
    m = await market(client, session)
    spec = (await client.get("/openapi.json")).json()
    longest = spec["components"]["schemas"]["EndpointCreate"]["properties"]["url"]["maxLength"]
    url = "https://" + "a" * (longest - len("https://.com")) + ".com"
    assert len(url) == longest

    endpoint = await create_endpoint(client, who=m.seller, url=url)

    assert endpoint["url"] == url + "/"
    too_long = await post_endpoint(
        client, who=m.seller, url="https://a" + url.removeprefix("https://")
    )
    assert_problem(too_long, 422, "validation_error")


@pytest.mark.parametrize("flag", [1, 0, "true", "false", "no"])
async def test_enabled_is_a_json_boolean(
    client: httpx.AsyncClient, session: AsyncSession, flag: object
) -> None:
    m = await market(client, session)
    endpoint = await create_endpoint(client, who=m.seller, url="https://shop.example.com/")

    response = await patch_endpoint(client, who=m.seller, endpoint_id=endpoint["id"], enabled=flag)

    assert_problem(response, 422, "validation_error")
    assert (await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"]))["enabled"] is True


async def test_credentials_in_the_url_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    problem = assert_problem(
        await post_endpoint(client, who=m.seller, url="https://user:pw@shop.example.com/"),
        422,
        "webhook_url_not_allowed",
    )
    assert problem["detail"] == "credentials do not belong in a webhook URL"


async def test_update_changes_what_was_sent_and_validates_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    endpoint = await create_endpoint(
        client, who=m.seller, url="https://shop.example.com/", description="first"
    )
    endpoint.pop("secret")

    response = await patch_endpoint(
        client,
        who=m.seller,
        endpoint_id=endpoint["id"],
        url="https://new.example.com/hooks",
        event_types=["order.shipped", "dispute.opened"],
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert "secret" not in updated
    assert updated["url"] == "https://new.example.com/hooks"
    assert updated["event_types"] == ["dispute.opened", "order.shipped"]
    assert updated["description"] == "first"  # not sent, not changed

    response = await patch_endpoint(
        client, who=m.seller, endpoint_id=endpoint["id"], description=None
    )
    assert response.json()["description"] is None

    response = await patch_endpoint(client, who=m.seller, endpoint_id=endpoint["id"], enabled=False)
    assert response.json()["enabled"] is False
    assert response.json()["disabled_reason"] == "disabled by the seller"
    response = await patch_endpoint(client, who=m.seller, endpoint_id=endpoint["id"], enabled=True)
    assert response.json()["enabled"] is True
    assert response.json()["disabled_reason"] is None

    bad_changes: list[Json] = [
        {"event_types": []},
        {"event_types": ["nope"]},
        {"url": "ftp://x.example/"},
    ]
    for bad in bad_changes:
        assert_problem(
            await patch_endpoint(client, who=m.seller, endpoint_id=endpoint["id"], **bad),
            422,
            "validation_error",
        )
    final = await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"])
    assert final["url"] == "https://new.example.com/hooks"
    assert final["event_types"] == ["dispute.opened", "order.shipped"]


OPERATIONS = ["get", "patch", "delete", "rotate"]


async def call(
    client: httpx.AsyncClient, who: LoggedIn | None, operation: str, endpoint_id: str
) -> httpx.Response:
    headers = who.headers if who is not None else {}
    path = f"{ENDPOINTS}/{endpoint_id}"
    if operation == "get":
        return await client.get(path, headers=headers)
    if operation == "patch":
        return await client.patch(path, json={"description": "mine now"}, headers=headers)
    if operation == "delete":
        return await client.delete(path, headers=headers)
    return await client.post(f"{path}/rotate-secret", headers=headers)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        ("other_seller", 404, "not_found"),
        ("buyer", 403, "seller_required"),
        ("anonymous", 401, "invalid_token"),
    ],
)
async def test_only_the_owner_reaches_an_endpoint(
    client: httpx.AsyncClient,
    session: AsyncSession,
    operation: str,
    caller: str,
    status: int,
    code: str,
) -> None:
    m = await market(client, session)
    endpoint = await create_endpoint(client, who=m.seller, url="https://shop.example.com/")
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    callers = {"other_seller": other_seller, "buyer": m.buyer, "anonymous": None}

    assert_problem(await call(client, callers[caller], operation, endpoint["id"]), status, code)

    # Untouched: same description and the same secret still signs.
    kept = await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"])
    assert kept["description"] is None
    stored = await session.scalar(
        select(WebhookEndpoint.secret)
        .where(WebhookEndpoint.id == uuid.UUID(endpoint["id"]))
        .execution_options(populate_existing=True)
    )
    assert stored == endpoint["secret"]
    # An unknown id is the same 404 for the owner.
    assert_problem(await call(client, m.seller, operation, str(uuid.uuid4())), 404, "not_found")


async def test_a_buyer_without_a_shop_cannot_register_or_list(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    buyer = await register_and_login(client)
    assert_problem(
        await post_endpoint(client, who=buyer, url="https://shop.example.com/"),
        403,
        "seller_required",
    )
    assert_problem(await client.get(ENDPOINTS, headers=buyer.headers), 403, "seller_required")
    assert_problem(await client.get(DELIVERIES, headers=buyer.headers), 403, "seller_required")


async def test_deleting_an_endpoint_removes_its_queue_and_delivery_log(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    m = await market(client, session)
    doomed = await create_endpoint(client, who=m.seller, url=receiver.url_for("/doomed"))
    kept = await create_endpoint(client, who=m.seller, url=receiver.url_for("/kept"))
    await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, settings) == 2  # one in the log each
    await unpaid_order(client, market=m)  # and one queued each
    doomed_id = uuid.UUID(doomed["id"])
    assert await count(session, WebhookDelivery, WebhookDelivery.endpoint_id == doomed_id) == 2

    response = await client.delete(f"{ENDPOINTS}/{doomed['id']}", headers=m.seller.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert_problem(
        await client.get(f"{ENDPOINTS}/{doomed['id']}", headers=m.seller.headers), 404, "not_found"
    )
    assert_problem(
        await client.delete(f"{ENDPOINTS}/{doomed['id']}", headers=m.seller.headers),
        404,
        "not_found",
    )
    assert await count(session, WebhookEndpoint, WebhookEndpoint.id == doomed_id) == 0
    assert await count(session, WebhookDelivery, WebhookDelivery.endpoint_id == doomed_id) == 0
    assert await count(session, WebhookAttempt) == 1  # the kept endpoint's
    remaining = await list_deliveries(client, who=m.seller)
    assert {d["endpoint_id"] for d in remaining} == {kept["id"]}
    assert len(remaining) == 2
    assert await list_deliveries(client, who=m.seller, endpoint_id=doomed["id"]) == []

    # The queued delivery goes to the kept endpoint only.
    assert await deliver_due_webhooks(database, settings) == 1
    assert sorted(r.path for r in receiver.requests) == ["/doomed", "/kept", "/kept"]
    assert receiver.requests[-1].path == "/kept"


async def test_an_endpoint_deleted_while_its_request_is_in_flight_is_not_recorded(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    outgoing = await claim_only(database, settings)
    response = await client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=m.seller.headers)
    assert response.status_code == 204, response.text
    async with database.session_scope() as recording:
        await delivery_module.record(recording, settings, outgoing, Outcome(204, None, 3))
    assert await count(session, WebhookAttempt) == 0
    assert await count(session, WebhookDelivery) == 0


# --- SSRF ---------------------------------------------------------------------------------------


def production_settings(settings: Settings, **overrides: Any) -> Settings:
    """Real production settings (validated: strong secret, argon2 memory, PostgreSQL URL);
    never connected to, only asked where webhooks may go."""
    return make_settings(
        "postgresql+asyncpg://marketplace@db.invalid/marketplace",
        environment="production",
        jwt_secret=STRONG_JWT_SECRET,
        password_hash_memory_kib=19 * 1024,
        **{**PRODUCTION_MAIL_AND_TOTP, **overrides},
    )


def test_only_production_refuses_private_targets_by_default(settings: Settings) -> None:
    assert settings.environment is Environment.test
    assert settings.webhooks_may_reach_private_networks is True
    assert production_settings(settings).webhooks_may_reach_private_networks is False
    allowed = production_settings(settings, webhook_allow_private_targets=True)
    assert allowed.webhooks_may_reach_private_networks is True
    refused = make_settings(settings.database_url, webhook_allow_private_targets=False)
    assert refused.webhooks_may_reach_private_networks is False
    for environment in ("development", "test"):
        default = make_settings(settings.database_url, environment=environment)
        assert default.webhooks_may_reach_private_networks is True


INTERNAL_URLS = [
    ("http://169.254.169.254/latest/meta-data/", "webhook URLs must use https"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is an internal address"),
    ("https://10.0.0.1/", "10.0.0.1 is an internal address"),
    ("https://192.168.1.20:8443/hooks", "192.168.1.20 is an internal address"),
    ("https://172.16.5.4/", "172.16.5.4 is an internal address"),
    ("https://100.64.0.1/", "100.64.0.1 is an internal address"),  # shared (CGNAT)
    ("https://127.0.0.1/", "127.0.0.1 is an internal address"),
    ("https://127.0.0.1:8000/hooks", "127.0.0.1 is an internal address"),
    ("https://0.0.0.0/", "0.0.0.0 is an internal address"),
    ("https://224.0.0.1/", "224.0.0.1 is an internal address"),
    ("https://[::1]/", "::1 is an internal address"),
    ("https://[fe80::1]/", "fe80::1 is an internal address"),
    ("https://[fd00::1]/", "fd00::1 is an internal address"),
    ("https://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254 is an internal address"),
    ("https://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 is an internal address"),
    ("https://localhost/", "localhost is an internal address"),
    ("https://localhost:9000/x", "localhost is an internal address"),
    ("http://example.com/", "webhook URLs must use https"),
    ("http://93.184.215.14/", "webhook URLs must use https"),
]


@pytest.mark.parametrize(("url", "reason"), INTERNAL_URLS, ids=[u for u, _ in INTERNAL_URLS])
async def test_check_target_refuses_internal_and_plain_http_urls_in_production(
    settings: Settings, url: str, reason: str
) -> None:
    with pytest.raises(WebhookUrlNotAllowed) as refused:
        await check_target(production_settings(settings), url)
    assert refused.value.detail.startswith(reason), refused.value.detail
    with pytest.raises(WebhookUrlNotAllowed):
        await check_target(refusing_private(settings), url)
    # Where private targets are allowed (development, tests), the same URL is accepted.
    await check_target(settings, url)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{PUBLIC_IPV4}/hooks",
        f"https://{PUBLIC_IPV4}:8443/hooks?x=1",
        f"https://[{PUBLIC_IPV6}]/hooks",
    ],
)
async def test_check_target_accepts_public_https_addresses_in_production(
    settings: Settings, url: str
) -> None:
    await check_target(production_settings(settings), url)


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("ftp://example.com/", "the URL must be http(s) with a host"),
        ("https:///no-host", "the URL must be http(s) with a host"),
        ("https://user:pw@example.com/", "credentials do not belong in a webhook URL"),
    ],
)
async def test_check_target_refuses_malformed_urls_even_where_private_targets_are_allowed(
    settings: Settings, url: str, detail: str
) -> None:
    with pytest.raises(WebhookUrlNotAllowed) as refused:
        await check_target(settings, url)
    assert refused.value.detail == detail


async def test_check_target_refuses_a_host_that_does_not_resolve(settings: Settings) -> None:
    with pytest.raises(WebhookUrlNotAllowed) as refused:
        await check_target(production_settings(settings), "https://no-such-host.invalid/")
    assert refused.value.detail == "the host 'no-such-host.invalid' does not resolve"


@pytest.mark.parametrize(
    "url",
    [
        # Spellings the URL parser turns into internal dotted quads before the check.
        "https://2852039166/",  # 169.254.169.254 as one number
        "https://0x7f.1/",  # 127.0.0.1 in hex and short form
        "https://0177.0.0.1/",  # 127.0.0.1 in octal
        "https://127.1/",
        "https://0/",
    ],
)
async def test_ip_spellings_are_refused_over_http(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    url: str,
) -> None:
    m = await market(client, session)
    async with client_with(database, refusing_private(settings)) as refusing:
        assert_problem(
            await post_endpoint(refusing, who=m.seller, url=url), 422, "webhook_url_not_allowed"
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://localhost/",
        "http://example.com/",
    ],
)
async def test_registering_an_internal_url_is_422_where_private_targets_are_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    url: str,
) -> None:
    m = await market(client, session)
    async with client_with(database, refusing_private(settings)) as refusing:
        problem = assert_problem(
            await post_endpoint(refusing, who=m.seller, url=url), 422, "webhook_url_not_allowed"
        )
        assert problem["title"] == "Webhook URL not allowed"
        listed = await refusing.get(ENDPOINTS, headers=m.seller.headers)
        assert listed.json()["items"] == []

        # Nor can an accepted endpoint be pointed there afterwards.
        public = await create_endpoint(refusing, who=m.seller, url=f"https://{PUBLIC_IPV4}/hooks")
        assert_problem(
            await patch_endpoint(refusing, who=m.seller, endpoint_id=public["id"], url=url),
            422,
            "webhook_url_not_allowed",
        )
        kept = await get_endpoint(refusing, who=m.seller, endpoint_id=public["id"])
        assert kept["url"] == f"https://{PUBLIC_IPV4}/hooks"

    # The app under test allows private targets (as development does).
    created = await create_endpoint(client, who=m.seller, url=url)
    assert created["url"] == url


@pytest.mark.parametrize(
    "url",
    [
        # IPv6 transition addresses that embed an internal IPv4 address.
        "https://[64:ff9b::a00:1]/",  # NAT64 (RFC 6052) of 10.0.0.1
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "https://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
        "https://[::a9fe:a9fe]/",  # IPv4-compatible 169.254.169.254
    ],
)
async def test_ipv6_forms_of_internal_ipv4_addresses_are_refused(
    settings: Settings, url: str
) -> None:
    with pytest.raises(WebhookUrlNotAllowed):
        await check_target(production_settings(settings), url)


@pytest.mark.parametrize(
    "host", ["a..b.com", "a" * 64 + ".example.com"], ids=["empty-label", "64-character-label"]
)
async def test_a_host_name_idna_cannot_encode_is_refused_not_a_crash(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
    host: str,
) -> None:
    """The resolver raises UnicodeError (not OSError) for such names: at registration it must
    still be a 422, and at send time a recorded failure, never a 500 or a crashed sweep."""
    url = f"https://{host}/h"
    with pytest.raises(WebhookUrlNotAllowed) as refused:
        await check_target(refusing_private(settings), url)
    assert refused.value.detail == f"the host {host!r} does not resolve"

    clock.freeze()
    m = await market(client, session)
    async with client_with(database, refusing_private(settings)) as refusing:
        problem = assert_problem(
            await post_endpoint(refusing, who=m.seller, url=url), 422, "webhook_url_not_allowed"
        )
        assert problem["detail"] == f"the host {host!r} does not resolve"
        public = await create_endpoint(refusing, who=m.seller, url=f"https://{PUBLIC_IPV4}/hooks")
        assert_problem(
            await patch_endpoint(refusing, who=m.seller, endpoint_id=public["id"], url=url),
            422,
            "webhook_url_not_allowed",
        )
        assert (await get_endpoint(refusing, who=m.seller, endpoint_id=public["id"]))[
            "url"
        ] == public["url"]
        deleted = await refusing.delete(f"{ENDPOINTS}/{public['id']}", headers=m.seller.headers)
        assert deleted.status_code == 204, deleted.text  # the delivery below is the only one

    # Registered where internal targets are allowed (no lookup then), sent where refused.
    endpoint = await create_endpoint(client, who=m.seller, url=url)
    await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, refusing_private(settings)) == 1
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "pending"
    assert found["last_error"] == "target_not_allowed"
    assert at(found["next_attempt_at"]) == clock.now() + settings.webhook_retry_base


async def test_a_target_refused_at_send_time_is_not_sent_and_retried_later(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    """Registered while private targets were allowed; the deployment now refuses them (or
    the name now resolves elsewhere): the check before each request keeps it unsent."""
    clock.freeze()
    start = clock.now()
    m = await market(client, session)
    plain = await create_endpoint(client, who=m.seller, url=receiver.url_for("/plain"))
    tls = await create_endpoint(client, who=m.seller, url=f"https://127.0.0.1:{receiver.port}/tls")
    await unpaid_order(client, market=m)

    assert await deliver_due_webhooks(database, refusing_private(settings)) == 2
    assert receiver.requests == []
    for endpoint, error in (
        (plain, "target_not_allowed"),
        (tls, "target_not_allowed"),
    ):
        found = await only_delivery(client, m.seller, endpoint["id"])
        assert found["status"] == "pending"
        assert found["attempts"] == 1
        assert found["last_status_code"] is None
        assert found["last_error"] == error
        assert at(found["next_attempt_at"]) == start + settings.webhook_retry_base
        (attempt,) = found["attempt_log"]
        assert attempt["status_code"] is None
        assert attempt["error"] == error
        assert parse_time(attempt["attempted_at"]) == start

    # Nothing lost: once private targets are allowed again, the next attempt is sent.
    response = await client.delete(f"{ENDPOINTS}/{tls['id']}", headers=m.seller.headers)
    assert response.status_code == 204, response.text
    clock.advance(settings.webhook_retry_base)
    assert await deliver_due_webhooks(database, settings) == 1
    (request,) = receiver.requests
    assert request.path == "/plain"
    found = await only_delivery(client, m.seller, plain["id"])
    assert found["status"] == "succeeded"
    assert found["attempts"] == 2
    assert request.event_id == found["event_id"]


PINNED_SECRET = "whsec_" + base64.b64encode(b"pinned-secret-24-bytes!!").decode()


def outgoing_to(url: str) -> Outgoing:
    return Outgoing(
        uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4()), url, (PINNED_SECRET,), b'{"a":1}'
    )


async def post_through_mock(settings: Settings, outgoing: Outgoing) -> httpx.Request:
    """`_post` of `outgoing` through a transport that records the request and answers 204."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        assert await delivery_module._post(http, settings, outgoing) == 204
    (request,) = seen
    return request


@pytest.mark.parametrize(
    ("url", "address", "sent_to", "host_header"),
    [
        (
            "https://hooks.example.com/h?x=1",
            "93.184.216.34",
            "https://93.184.216.34/h?x=1",
            "hooks.example.com",
        ),
        (
            "https://hooks.example.com:8443/h",
            "93.184.216.34",
            "https://93.184.216.34:8443/h",
            "hooks.example.com:8443",
        ),
        (
            "https://hooks.example.com:443/h",
            "93.184.216.34",
            "https://93.184.216.34/h",
            "hooks.example.com",
        ),
        (
            "https://hooks.example.com/h",
            PUBLIC_IPV6,
            f"https://[{PUBLIC_IPV6}]/h",
            "hooks.example.com",
        ),
    ],
    ids=["default-port", "own-port", "explicit-443", "ipv6"],
)
async def test_the_request_goes_to_the_vetted_address_with_the_name_in_host_and_sni(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    address: str,
    sent_to: str,
    host_header: str,
) -> None:
    """DNS rebinding: the name resolved to a public address when checked; connecting by name
    again could reach an internal one. The request connects to the checked address."""
    looked_up: list[str] = []

    async def resolve(host: str) -> list[targets_module.IPAddress]:
        looked_up.append(host)
        return [ipaddress.ip_address(address)]

    monkeypatch.setattr(targets_module, "_addresses", resolve)
    clock.freeze()
    outgoing = outgoing_to(url)

    request = await post_through_mock(refusing_private(settings), outgoing)

    assert looked_up == ["hooks.example.com"]
    assert str(request.url) == sent_to
    assert request.url.host == address
    assert request.headers["host"] == host_header
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.method == "POST"
    assert request.content == outgoing.body
    assert request.headers["webhook-id"] == outgoing.event_id
    assert request.headers["webhook-timestamp"] == unix_now()
    verify(PINNED_SECRET, dict(request.headers), request.content, now=clock.now().timestamp())


async def test_where_internal_targets_are_allowed_the_name_is_used_as_is(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def resolve(host: str) -> list[targets_module.IPAddress]:
        raise AssertionError(f"{host} looked up although nothing is checked")

    monkeypatch.setattr(targets_module, "_addresses", resolve)

    request = await post_through_mock(settings, outgoing_to("https://hooks.example.com:8443/h"))

    assert str(request.url) == "https://hooks.example.com:8443/h"
    assert request.headers["host"] == "hooks.example.com:8443"
    assert "sni_hostname" not in request.extensions
    verify(PINNED_SECRET, dict(request.headers), request.content, now=clock.now().timestamp())


# --- delivery -----------------------------------------------------------------------------------


async def test_order_events_reach_the_subscribed_endpoint_once_each_signed(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    m = await market(client, session)
    endpoint = await create_endpoint(
        client,
        who=m.seller,
        url=receiver.url_for("/hooks/mine"),
        event_types=["order.created", "order.paid"],
    )
    other, other_id = await approved_seller(client, session, admin=m.admin)
    other_endpoint = await create_endpoint(
        client, who=other, url=receiver.url_for("/hooks/other"), event_types=["order.shipped"]
    )

    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    await pay(client, who=m.buyer, checkout_id=created["id"])
    (order,) = created["orders"]
    await ship(client, who=m.seller, order_id=order["id"])  # order.shipped: not subscribed here
    # The other shop's order: created, paid and shipped, none of it for our endpoint.
    other_listing = await listing_for_sale(client, seller=other, category_id=m.category_id)
    other_checkout = await checkout(
        client, who=m.buyer, items=[{"listing_id": other_listing["id"], "quantity": 1}]
    )
    await pay(client, who=m.buyer, checkout_id=other_checkout["id"])
    (other_order,) = other_checkout["orders"]
    await ship(client, who=other, order_id=other_order["id"])

    done = await sweep(database, settings)
    assert done["deliver_webhooks"] == 3

    events = await events_of(session, m.seller_id)
    assert [e.type for e in events] == [
        "order.created",
        "order.paid",
        "order.shipped",
        "shipment.created",
        "shipment.delivered",
    ]
    assert all(e.data["order_id"] == order["id"] for e in events)
    wanted = {str(e.id): e for e in events if e.type in {"order.created", "order.paid"}}

    mine = [r for r in receiver.requests if r.path == "/hooks/mine"]
    assert len(mine) == 2
    assert {r.event_id for r in mine} == set(wanted)
    assert {k: len(v) for k, v in receiver.by_event_id().items() if k in wanted} == {
        k: 1 for k in wanted
    }
    for request in mine:
        event = wanted[request.headers["webhook-id"]]
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "marketplace-webhooks/1"
        assert request.json() == expected_body(event)
        assert request.body == delivery_module.payload(event)
        assert request.json()["id"] == request.headers["webhook-id"] == str(event.id)
        assert request.headers["webhook-timestamp"] == unix_now()
        assert request.headers["webhook-signature"] == sign(
            endpoint["secret"], str(event.id), unix_now(), request.body
        )
        assert verifies(endpoint["secret"], request)
        assert not verifies(other_endpoint["secret"], request)
    assert wanted[mine[0].headers["webhook-id"]].data["total"] == {
        "amount": 1500,
        "currency": "USD",
    }

    (other_request,) = [r for r in receiver.requests if r.path == "/hooks/other"]
    (other_shipped,) = [e for e in await events_of(session, other_id) if e.type == "order.shipped"]
    assert other_request.json() == expected_body(other_shipped)
    assert verifies(other_endpoint["secret"], other_request)
    assert not verifies(endpoint["secret"], other_request)

    # The delivery log.
    log = await list_deliveries(client, who=m.seller)
    assert [d["event_type"] for d in log] == ["order.paid", "order.created"]  # newest first
    for listed in log:
        assert listed["endpoint_id"] == endpoint["id"]
        assert listed["status"] == "succeeded"
        assert listed["attempts"] == 1
        assert listed["last_status_code"] == 204
        assert listed["last_error"] is None
        assert listed["next_attempt_at"] is None
        assert at(listed["delivered_at"]) == clock.now()
        assert at(listed["last_attempt_at"]) == clock.now()
        assert parse_time(listed["created_at"]) == wanted[listed["event_id"]].occurred_at
        detail = await get_delivery(client, m.seller, listed["id"])
        (attempt,) = detail.pop("attempt_log")
        assert detail == listed
        assert attempt["status_code"] == 204
        assert attempt["error"] is None
        assert parse_time(attempt["attempted_at"]) == clock.now()
        assert isinstance(attempt["duration_ms"], int)
        assert 0 <= attempt["duration_ms"] < 5000

    # Nothing is sent twice.
    assert (await sweep(database, settings))["deliver_webhooks"] == 0
    assert len(receiver.requests) == 3


async def test_a_500_is_retried_with_doubling_backoff_under_the_same_webhook_id(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    start = clock.now()
    base = settings.webhook_retry_base
    assert base == timedelta(minutes=1)
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    receiver.respond_with(500)

    assert await deliver_due_webhooks(database, settings) == 1
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "pending"
    assert found["attempts"] == 1
    assert found["last_status_code"] == 500
    assert found["last_error"] == "http_500"
    assert found["delivered_at"] is None
    assert at(found["next_attempt_at"]) == start + base

    # Not due yet: nothing is sent.
    clock.advance(base - timedelta(seconds=1))
    assert await deliver_due_webhooks(database, settings) == 0
    assert len(receiver.requests) == 1

    clock.advance(timedelta(seconds=1))
    second_at = clock.now()
    assert await deliver_due_webhooks(database, settings) == 1
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["attempts"] == 2
    assert at(found["next_attempt_at"]) == second_at + 2 * base

    clock.advance(2 * base - timedelta(seconds=1))
    assert await deliver_due_webhooks(database, settings) == 0
    clock.advance(timedelta(seconds=1))
    third_at = clock.now()
    assert await deliver_due_webhooks(database, settings) == 1
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["attempts"] == 3
    assert at(found["next_attempt_at"]) == third_at + 4 * base

    receiver.respond_with(204)
    clock.advance(4 * base)
    assert await deliver_due_webhooks(database, settings) == 1
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "succeeded"
    assert found["attempts"] == 4
    assert found["last_status_code"] == 204
    assert found["last_error"] is None
    assert found["next_attempt_at"] is None
    assert at(found["delivered_at"]) == clock.now()
    assert [a["status_code"] for a in found["attempt_log"]] == [204, 500, 500, 500]
    assert [parse_time(a["attempted_at"]) for a in found["attempt_log"]] == [
        start + 7 * base,
        third_at,
        second_at,
        start,
    ]

    requests = receiver.requests
    assert len(requests) == 4
    assert {r.event_id for r in requests} == {found["event_id"]}
    assert {r.body for r in requests} == {requests[0].body}
    assert [r.headers["webhook-timestamp"] for r in requests] == [
        str(int(t.timestamp())) for t in (start, second_at, third_at, start + 7 * base)
    ]
    assert verifies(endpoint["secret"], requests[-1])
    assert list(receiver.by_event_id()) == [found["event_id"]]
    assert await deliver_due_webhooks(database, settings) == 0


async def test_a_hanging_receiver_times_out_without_delaying_the_others(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
    second_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.freeze()
    start = clock.now()
    quick = with_settings(settings, webhook_timeout=timedelta(seconds=0.5))
    m = await market(client, session)
    healthy = await create_endpoint(client, who=m.seller, url=receiver.url_for("/healthy"))
    hanging = await create_endpoint(client, who=m.seller, url=second_receiver.url_for("/hanging"))
    second_receiver.hang(10, first=1)
    await unpaid_order(client, market=m)

    recorded: list[tuple[str, float]] = []
    original_record = delivery_module.record

    async def timed_record(
        session: AsyncSession, settings: Settings, outgoing: Outgoing, outcome: Outcome
    ) -> None:
        recorded.append((outgoing.url, time.monotonic() - began))
        await original_record(session, settings, outgoing, outcome)

    monkeypatch.setattr(delivery_module, "record", timed_record)
    began = time.monotonic()
    assert await deliver_due_webhooks(database, quick) == 2
    took = time.monotonic() - began

    # The healthy outcome was recorded while the other request was still hanging, and the
    # sweep ended at the timeout, not when the receiver would have answered.
    assert [url for url, _ in recorded] == [healthy["url"], hanging["url"]]
    assert recorded[0][1] < 0.5 <= recorded[1][1]
    assert took < 5

    good = await only_delivery(client, m.seller, healthy["id"])
    assert good["status"] == "succeeded"
    assert good["last_status_code"] == 204
    assert good["attempt_log"][0]["duration_ms"] < 500

    slow = await only_delivery(client, m.seller, hanging["id"])
    assert slow["status"] == "pending"
    assert slow["attempts"] == 1
    assert slow["last_status_code"] is None
    assert slow["last_error"] == "timeout"
    assert at(slow["next_attempt_at"]) == start + settings.webhook_retry_base
    (attempt,) = slow["attempt_log"]
    assert attempt["status_code"] is None
    assert attempt["error"] == "timeout"
    assert 500 <= attempt["duration_ms"] < 5000
    (hung,) = second_receiver.requests
    assert hung.hung_for == 10

    # Retried later (the receiver answers at once now); the healthy one is not sent again.
    clock.advance(settings.webhook_retry_base)
    assert await deliver_due_webhooks(database, quick) == 1
    slow = await only_delivery(client, m.seller, hanging["id"])
    assert slow["status"] == "succeeded"
    assert slow["attempts"] == 2
    first, again = second_receiver.requests
    assert again.event_id == first.event_id == slow["event_id"] == good["event_id"]
    assert again.body == first.body
    assert len(receiver.requests) == 1


async def test_an_unexpected_error_sending_one_delivery_fails_only_that_one(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in `send` for one delivery must neither hang the sweep (it waits for an outcome
    per claimed delivery) nor lose the others' outcomes; that one is retried later."""
    clock.freeze()
    start = clock.now()
    m = await market(client, session)
    first = await create_endpoint(client, who=m.seller, url=receiver.url_for("/first"))
    broken = await create_endpoint(client, who=m.seller, url=receiver.url_for("/broken"))
    last = await create_endpoint(client, who=m.seller, url=receiver.url_for("/last"))
    await unpaid_order(client, market=m)
    original_send = delivery_module.send

    async def send_unless_broken(
        http: httpx.AsyncClient, settings: Settings, outgoing: Outgoing
    ) -> Outcome:
        if outgoing.url == broken["url"]:
            raise RuntimeError("a bug in the sender")
        return await original_send(http, settings, outgoing)

    monkeypatch.setattr(delivery_module, "send", send_unless_broken)

    assert await asyncio.wait_for(deliver_due_webhooks(database, settings), 10) == 3

    assert sorted(r.path for r in receiver.requests) == ["/first", "/last"]
    for endpoint in (first, last):
        assert (await only_delivery(client, m.seller, endpoint["id"]))["status"] == "succeeded"
    failed = await only_delivery(client, m.seller, broken["id"])
    assert failed["status"] == "pending"
    assert failed["attempts"] == 1
    assert failed["last_status_code"] is None
    assert failed["last_error"] == "internal_error"
    assert at(failed["next_attempt_at"]) == start + settings.webhook_retry_base
    (attempt,) = failed["attempt_log"]
    assert attempt["error"] == "internal_error"
    assert attempt["status_code"] is None

    monkeypatch.setattr(delivery_module, "send", original_send)
    clock.advance(settings.webhook_retry_base)
    assert await deliver_due_webhooks(database, settings) == 1
    retried = await only_delivery(client, m.seller, broken["id"])
    assert retried["status"] == "succeeded"
    assert retried["attempts"] == 2
    assert [a["status_code"] for a in retried["attempt_log"]] == [204, None]
    assert receiver.requests[-1].path == "/broken"


class RawServer(ABC):
    """A hand-written HTTP answer on a free port, for what the shared receiver cannot do."""

    port = 0
    hits = 0

    @abstractmethod
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one connection."""

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()


class RedirectingServer(RawServer):
    """Answers every request with a 302 to `location` (one request per connection)."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.hits = 0
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.hits += 1
        writer.write(
            b"HTTP/1.1 302 Found\r\n"
            + f"Location: {self.location}\r\n".encode()
            + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()


async def test_redirects_are_not_followed_and_count_as_failures(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    m = await market(client, session)
    async with RedirectingServer(receiver.url_for("/stolen")).running() as redirector:
        endpoint = await create_endpoint(
            client, who=m.seller, url=f"http://127.0.0.1:{redirector.port}/hooks"
        )
        await unpaid_order(client, market=m)
        assert await deliver_due_webhooks(database, settings) == 1
        assert redirector.hits == 1
    assert receiver.requests == []  # the Location was never followed
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "pending"
    assert found["attempts"] == 1
    assert found["last_status_code"] == 302
    assert found["last_error"] == "http_302"
    assert at(found["next_attempt_at"]) == clock.now() + settings.webhook_retry_base

    # The harness receiver answering 302 itself is a failure too.
    response = await client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=m.seller.headers)
    assert response.status_code == 204, response.text
    plain = await create_endpoint(client, who=m.seller, url=receiver.url_for("/plain"))
    receiver.respond_with(302)
    await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, settings) == 1
    found = await only_delivery(client, m.seller, plain["id"])
    assert found["status"] == "pending"
    assert found["last_status_code"] == 302
    assert [a["status_code"] for a in found["attempt_log"]] == [302]


class TricklingServer(RawServer):
    """Answers `200 OK` one header line every `interval` seconds, `lines` times (a slow-loris
    receiver: never silent long enough for a per-read timeout to fire)."""

    def __init__(self, *, interval: float, lines: int) -> None:
        self.interval = interval
        self.lines = lines
        self.hits = 0
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            writer.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(self.lines):
                await writer.drain()
                await asyncio.sleep(self.interval)
                writer.write(b"X-Slow: 1\r\n")
            writer.write(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass  # the sender gave up
        finally:
            writer.close()


async def test_the_timeout_bounds_the_whole_request_not_each_read(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    """A receiver that answers a header line every 0.2 s for 3 s never lets a 0.5 s per-read
    timeout fire. The request must still end at the timeout: the lease assumes it does
    (past it another sweep sends the same event again), and the sweep waits for it."""
    clock.freeze()
    quick = with_settings(settings, webhook_timeout=timedelta(seconds=0.5))
    m = await market(client, session)
    async with TricklingServer(interval=0.2, lines=15).running() as slow:
        endpoint = await create_endpoint(client, who=m.seller, url=f"http://127.0.0.1:{slow.port}/")
        await unpaid_order(client, market=m)
        began = time.monotonic()
        assert await deliver_due_webhooks(database, quick) == 1
        took = time.monotonic() - began
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert took < 1.5, (
        f"a 0.5 s timeout let the request run {took:.1f} s; it was recorded as "
        f"{found['status']} with HTTP {found['last_status_code']}"
    )
    assert found["status"] == "pending"
    assert found["last_error"] == "timeout"


async def test_a_worker_killed_mid_delivery_leaves_a_lease_that_runs_out(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    claimed = await claim_only(database, settings)
    # ... and the worker dies before sending or recording anything.
    lease = settings.webhook_timeout + delivery_module.LEASE_MARGIN
    assert lease == timedelta(seconds=10)
    leased = await only_delivery(client, m.seller, endpoint["id"])
    assert leased["status"] == "pending"
    assert leased["attempts"] == 0
    assert at(leased["next_attempt_at"]) == clock.now() + lease

    clock.advance(lease - timedelta(milliseconds=1))
    assert await deliver_due_webhooks(database, settings) == 0  # leased: nobody else sends
    assert receiver.requests == []
    clock.advance(timedelta(milliseconds=1))
    assert await deliver_due_webhooks(database, settings) == 1
    (request,) = receiver.requests
    assert request.event_id == claimed.event_id == leased["event_id"]
    assert request.body == claimed.body
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "succeeded"
    assert found["attempts"] == 1


async def test_an_attempt_overtaken_by_a_redelivery_records_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    """Compare-and-set on the claim: redelivering while an attempt is in flight starts a
    fresh round, which that attempt's late outcome must not spend or end."""
    clock.freeze()
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    in_flight = await claim_only(database, settings)
    (listed,) = await list_deliveries(client, who=m.seller, endpoint_id=endpoint["id"])

    clock.advance(timedelta(seconds=2))
    response = await post_redeliver(client, m.seller, listed["id"])
    assert response.status_code == 202, response.text
    async with database.session_scope() as recording:
        await delivery_module.record(recording, settings, in_flight, Outcome(500, "http_500", 5))

    found = await get_delivery(client, m.seller, listed["id"])
    assert found["status"] == "pending"
    assert found["attempts"] == 0
    assert found["last_status_code"] is None
    assert found["last_error"] is None
    assert found["last_attempt_at"] is None
    assert at(found["next_attempt_at"]) == clock.now()
    assert found["attempt_log"] == []
    assert await count(session, WebhookAttempt) == 0

    # The redelivery's own attempt is the one that counts.
    assert await deliver_due_webhooks(database, settings) == 1
    found = await get_delivery(client, m.seller, listed["id"])
    assert found["status"] == "succeeded"
    assert found["attempts"] == 1
    assert [a["status_code"] for a in found["attempt_log"]] == [204]


async def test_an_attempt_whose_lease_ran_out_and_was_claimed_again_records_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    slow = await claim_only(database, settings)
    clock.advance(delivery_module.lease(settings, 1))
    again = await claim_only(database, settings)
    assert again.delivery_id == slow.delivery_id
    assert again.claim_id != slow.claim_id

    async def record(outgoing: Outgoing, outcome: Outcome) -> None:
        async with database.session_scope() as recording:
            await delivery_module.record(recording, settings, outgoing, outcome)

    await record(slow, Outcome(500, "http_500", 5))
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "pending"
    assert found["attempts"] == 0
    assert found["attempt_log"] == []
    assert await count(session, WebhookAttempt) == 0

    await record(again, Outcome(204, None, 3))
    # The first attempt's outcome arriving later still changes nothing.
    await record(slow, Outcome(500, "http_500", 5))
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "succeeded"
    assert found["attempts"] == 1
    assert found["last_status_code"] == 204
    assert [a["status_code"] for a in found["attempt_log"]] == [204]
    assert await count(session, WebhookAttempt) == 1


async def test_a_failed_connection_is_recorded_and_retried(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
) -> None:
    clock.freeze()
    m = await market(client, session)
    with WebhookReceiver() as gone:
        url = gone.url_for()
    # The port is closed now: the connection is refused.
    endpoint = await create_endpoint(client, who=m.seller, url=url)
    await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, settings) == 1
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "pending"
    assert found["last_status_code"] is None
    assert found["last_error"] == "connection_failed"
    assert at(found["next_attempt_at"]) == clock.now() + settings.webhook_retry_base


async def test_network_failures_are_recorded_as_categories_not_as_probes(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """What the network library said (refused, unreachable, the address of an internal name)
    would let a seller map internal ports through their endpoint: only the category is kept,
    the same for a closed port and for a host that does not exist."""
    clock.freeze()
    m = await market(client, session)
    with WebhookReceiver() as gone:
        closed_port = gone.url_for()

    async def not_tls(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    plain_server = await asyncio.start_server(not_tls, "127.0.0.1", 0)
    plain_port = plain_server.sockets[0].getsockname()[1]
    targets = {
        "closed port": (closed_port, "connection_failed"),
        "unknown host": ("http://no-such-host.invalid/hook", "connection_failed"),
        # TLS spoken to a server that answers plain HTTP: the handshake fails.
        "tls": (f"https://127.0.0.1:{plain_port}/hook", "tls"),
    }
    endpoints = {
        name: await create_endpoint(client, who=m.seller, url=url)
        for name, (url, _) in targets.items()
    }
    await unpaid_order(client, market=m)

    async with plain_server:
        assert await deliver_due_webhooks(database, settings) == len(targets)
    for name, (_, category) in targets.items():
        found = await only_delivery(client, m.seller, endpoints[name]["id"])
        assert found["last_error"] == category, name
        assert [a["error"] for a in found["attempt_log"]] == [category], name


async def test_after_the_last_attempt_the_delivery_fails_and_the_endpoint_is_disabled(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    start = clock.now()
    three = with_settings(settings, webhook_max_attempts=3)
    base = settings.webhook_retry_base
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    receiver.respond_with(500)

    assert await deliver_due_webhooks(database, three) == 1
    clock.advance(base)
    assert await deliver_due_webhooks(database, three) == 1
    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "pending"
    assert (await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"]))["enabled"] is True
    clock.advance(2 * base)
    assert await deliver_due_webhooks(database, three) == 1

    found = await only_delivery(client, m.seller, endpoint["id"])
    assert found["status"] == "failed"
    assert found["attempts"] == 3
    assert found["next_attempt_at"] is None
    assert found["last_status_code"] == 500
    assert found["delivered_at"] is None
    assert [a["status_code"] for a in found["attempt_log"]] == [500, 500, 500]

    disabled = await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"])
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "a delivery failed 3 attempts in a row"

    (notice,) = await disabled_notices(client, m.seller)
    assert notice["title"] == "A webhook endpoint was disabled after repeated failures"
    assert notice["data"] == {"endpoint_id": endpoint["id"], "url": endpoint["url"]}
    assert notice["read_at"] is None
    assert parse_time(notice["created_at"]) == start + 3 * base
    buyer_notices = await client.get("/v1/notifications", headers=m.buyer.headers)
    assert all(n["type"] != "webhook_endpoint.disabled" for n in buyer_notices.json()["items"])

    # Nothing more is sent; new events are queued (nothing is lost) but wait.
    clock.advance(timedelta(hours=1))
    seller = await relogin(client, who=m.seller)
    m = Market(m.admin, seller, m.seller_id, m.category_id, await relogin(client, who=m.buyer))
    assert await deliver_due_webhooks(database, three) == 0
    await unpaid_order(client, market=m)
    waiting = await list_deliveries(
        client, who=seller, endpoint_id=endpoint["id"], status="pending"
    )
    assert [d["event_type"] for d in waiting] == ["order.created"]
    assert await deliver_due_webhooks(database, three) == 0
    assert len(receiver.requests) == 3

    assert_problem(await post_redeliver(client, seller, found["id"]), 409, "endpoint_disabled")
    response = await patch_endpoint(client, who=seller, endpoint_id=endpoint["id"], enabled=True)
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    assert response.json()["disabled_reason"] is None

    response = await post_redeliver(client, seller, found["id"])
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "pending"
    assert queued["attempts"] == 0
    assert at(queued["next_attempt_at"]) == clock.now()
    assert len(queued["attempt_log"]) == 3  # the history stays

    receiver.respond_with(204)
    assert await deliver_due_webhooks(database, three) == 2  # the redelivery and the waiting one
    found = await get_delivery(client, seller, found["id"])
    assert found["status"] == "succeeded"
    assert found["attempts"] == 1
    assert found["last_status_code"] == 204
    assert [a["status_code"] for a in found["attempt_log"]] == [204, 500, 500, 500]
    assert set(receiver.by_event_id()) == {found["event_id"], waiting[0]["event_id"]}
    assert len(receiver.requests) == 5


async def disabled_notices(client: httpx.AsyncClient, who: LoggedIn) -> list[Json]:
    response = await client.get("/v1/notifications", params={"limit": 100}, headers=who.headers)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["items"] if n["type"] == "webhook_endpoint.disabled"]


async def test_an_endpoint_that_succeeded_meanwhile_is_not_disabled_by_one_failed_delivery(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    """One event the receiver keeps refusing (a bug on its side for that payload, say) while
    it takes the others: that delivery fails, the endpoint stays. Only failing everything for
    as long as the delivery was retried disables it."""
    clock.freeze()
    three = with_settings(settings, webhook_max_attempts=3)
    base = settings.webhook_retry_base
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    receiver.respond_with(500)
    assert await deliver_due_webhooks(database, three) == 1  # the first event: attempt 1

    clock.advance(timedelta(seconds=1))
    await unpaid_order(client, market=m)
    receiver.respond_with(204)
    assert await deliver_due_webhooks(database, three) == 1  # the second event: delivered

    receiver.respond_with(500)
    clock.advance(base)
    assert await deliver_due_webhooks(database, three) == 1  # the first event: attempt 2
    clock.advance(2 * base)
    assert await deliver_due_webhooks(database, three) == 1  # the first event: attempt 3

    refused, delivered = sorted(
        await list_deliveries(client, who=m.seller, endpoint_id=endpoint["id"]),
        key=lambda d: d["created_at"],
    )
    assert refused["status"] == "failed"
    assert refused["attempts"] == 3
    assert delivered["status"] == "succeeded"
    kept = await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"])
    assert kept["enabled"] is True
    assert kept["disabled_reason"] is None
    assert await disabled_notices(client, m.seller) == []

    # A later event failing every attempt with no success since it was created does.
    await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, three) == 1
    clock.advance(base)
    assert await deliver_due_webhooks(database, three) == 1
    clock.advance(2 * base)
    assert await deliver_due_webhooks(database, three) == 1
    assert len(await list_deliveries(client, who=m.seller, status="failed")) == 2
    disabled = await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"])
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "a delivery failed 3 attempts in a row"
    assert len(await disabled_notices(client, m.seller)) == 1


async def test_other_pending_deliveries_wait_while_their_endpoint_is_disabled(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    two = with_settings(settings, webhook_max_attempts=2)
    base = settings.webhook_retry_base
    m = await market(client, session)
    endpoint = await create_endpoint(
        client, who=m.seller, url=receiver.url_for(), event_types=["order.created", "order.paid"]
    )
    order = await unpaid_order(client, market=m)
    receiver.respond_with(500)
    assert await deliver_due_webhooks(database, two) == 1  # order.created: attempt 1 of 2
    clock.advance(base)
    await pay(client, who=m.buyer, checkout_id=order["checkout_id"])  # order.paid, due now as well
    assert await deliver_due_webhooks(database, two) == 2

    (created,) = await list_deliveries(client, who=m.seller, status="failed")
    assert created["event_type"] == "order.created"
    (paid,) = await list_deliveries(client, who=m.seller, status="pending")
    assert paid["event_type"] == "order.paid"
    assert paid["attempts"] == 1
    assert at(paid["next_attempt_at"]) == clock.now() + base
    assert (await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"]))[
        "enabled"
    ] is False

    # Due, but its endpoint is disabled: it waits, without using up attempts.
    clock.advance(10 * base)
    assert await deliver_due_webhooks(database, two) == 0
    assert (await get_delivery(client, m.seller, paid["id"]))["attempts"] == 1
    assert len(receiver.requests) == 3

    receiver.respond_with(204)
    response = await patch_endpoint(client, who=m.seller, endpoint_id=endpoint["id"], enabled=True)
    assert response.status_code == 200, response.text
    assert await deliver_due_webhooks(database, two) == 1
    resumed = await get_delivery(client, m.seller, paid["id"])
    assert resumed["status"] == "succeeded"
    assert resumed["attempts"] == 2
    # The failed one stays failed until redelivered.
    assert (await get_delivery(client, m.seller, created["id"]))["status"] == "failed"
    types = [r.json()["type"] for r in receiver.requests]
    assert types[0] == "order.created"
    assert sorted(types[1:3]) == ["order.created", "order.paid"]  # one sweep, concurrently
    assert types[3:] == ["order.paid"]


async def test_redelivering_a_succeeded_delivery_sends_it_again_with_the_same_id(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
) -> None:
    clock.freeze()
    m, endpoint = await market_with_an_order_for(client, session, receiver)
    assert await deliver_due_webhooks(database, settings) == 1
    done = await only_delivery(client, m.seller, endpoint["id"])
    assert done["status"] == "succeeded"

    clock.advance(timedelta(minutes=5))
    response = await post_redeliver(client, m.seller, done["id"])
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["id"] == done["id"]
    assert queued["status"] == "pending"
    assert queued["attempts"] == 0
    assert at(queued["next_attempt_at"]) == clock.now()
    assert at(queued["delivered_at"]) == at(done["delivered_at"])

    assert await deliver_due_webhooks(database, settings) == 1
    grouped = receiver.by_event_id()
    assert list(grouped) == [done["event_id"]]
    first, again = grouped[done["event_id"]]
    assert again.body == first.body
    assert again.headers["webhook-timestamp"] == unix_now()
    assert int(again.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 300
    assert verifies(endpoint["secret"], again)

    found = await get_delivery(client, m.seller, done["id"])
    assert found["status"] == "succeeded"
    assert found["attempts"] == 1
    assert at(found["delivered_at"]) == clock.now()
    assert len(found["attempt_log"]) == 2
    assert len(await list_deliveries(client, who=m.seller)) == 1  # the same delivery, not a new one


# --- the delivery log ---------------------------------------------------------------------------


async def test_the_delivery_log_filters_pages_newest_first_and_is_private(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
    second_receiver: WebhookReceiver,
) -> None:
    m = await market(client, session)
    failing = await create_endpoint(client, who=m.seller, url=second_receiver.url_for("/f"))
    working = await create_endpoint(
        client,
        who=m.seller,
        url=receiver.url_for("/w"),
        event_types=["order.created", "order.paid"],
    )
    second_receiver.respond_with(503)
    first = await unpaid_order(client, market=m)
    await unpaid_order(client, market=m)
    await pay(client, who=m.buyer, checkout_id=first["checkout_id"])
    assert await deliver_due_webhooks(database, settings) == 5

    everything = await list_deliveries(client, who=m.seller)
    assert len(everything) == 5
    ids = [d["id"] for d in everything]
    assert ids == sorted(ids, reverse=True)  # time-ordered ids: newest first
    assert everything[0]["event_type"] == "order.paid"
    created_times = [parse_time(d["created_at"]) for d in everything]
    assert created_times == sorted(created_times, reverse=True)

    pages: list[Json] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(DELIVERIES, params=params, headers=m.seller.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [d["id"] for p in pages for d in p["items"]] == ids

    pending = await list_deliveries(client, who=m.seller, status="pending")
    assert len(pending) == 2
    assert {d["endpoint_id"] for d in pending} == {failing["id"]}
    assert {d["last_status_code"] for d in pending} == {503}
    succeeded = await list_deliveries(client, who=m.seller, status="succeeded")
    assert len(succeeded) == 3
    assert {d["endpoint_id"] for d in succeeded} == {working["id"]}
    assert await list_deliveries(client, who=m.seller, status="failed") == []
    assert [
        d["id"] for d in await list_deliveries(client, who=m.seller, endpoint_id=failing["id"])
    ] == [d["id"] for d in pending]
    assert (
        await list_deliveries(client, who=m.seller, endpoint_id=working["id"], status="pending")
        == []
    )
    assert await list_deliveries(client, who=m.seller, endpoint_id=str(uuid.uuid4())) == []

    for bad_params in ({"status": "lost"}, {"endpoint_id": "not-a-uuid"}, {"limit": "0"}):
        assert_problem(
            await client.get(DELIVERIES, params=bad_params, headers=m.seller.headers),
            422,
            "validation_error",
        )
    assert_problem(
        await client.get(DELIVERIES, params={"cursor": "garbage"}, headers=m.seller.headers),
        422,
        "invalid_cursor",
    )
    assert_problem(
        await client.get(f"{DELIVERIES}/not-a-uuid", headers=m.seller.headers),
        422,
        "validation_error",
    )
    assert_problem(
        await client.post(f"{DELIVERIES}/not-a-uuid/redeliver", headers=m.seller.headers),
        422,
        "validation_error",
    )
    assert_problem(
        await client.get(f"{DELIVERIES}/{uuid.uuid4()}", headers=m.seller.headers),
        404,
        "not_found",
    )

    # Another shop sees none of it.
    other, _ = await approved_seller(client, session, admin=m.admin)
    assert await list_deliveries(client, who=other) == []
    assert await list_deliveries(client, who=other, endpoint_id=failing["id"]) == []
    target = pending[0]
    assert_problem(
        await client.get(f"{DELIVERIES}/{target['id']}", headers=other.headers), 404, "not_found"
    )
    assert_problem(await post_redeliver(client, other, target["id"]), 404, "not_found")
    assert_problem(
        await client.get(f"{DELIVERIES}/{target['id']}", headers=m.buyer.headers),
        403,
        "seller_required",
    )
    assert_problem(await post_redeliver(client, m.buyer, target["id"]), 403, "seller_required")
    unchanged = await get_delivery(client, m.seller, target["id"])
    assert unchanged["attempts"] == 1
    assert unchanged["next_attempt_at"] == target["next_attempt_at"]


# --- the same transaction -----------------------------------------------------------------------


async def test_a_delivery_exists_exactly_when_its_event_does(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    receiver: WebhookReceiver,
) -> None:
    m = await market(client, session)
    endpoint = await create_endpoint(
        client,
        who=m.seller,
        url=receiver.url_for(),
        event_types=[
            "order.created",
            "order.paid",
            "order.shipped",
            "shipment.created",
            "shipment.delivered",
        ],
    )
    order = await unpaid_order(client, market=m)
    await pay(client, who=m.buyer, checkout_id=order["checkout_id"])
    await ship(client, who=m.seller, order_id=order["id"])
    # A refused step writes neither an event nor a delivery.
    refused = await client.post(
        f"/v1/orders/{order['id']}/ship",
        json={"carrier": "sandbox", "tracking_number": "SBX00000001-DELIVERED-0"},
        headers=m.seller.headers,
    )
    assert refused.status_code == 409, refused.text

    events = await events_of(session, m.seller_id)
    assert [e.type for e in events] == [
        "order.created",
        "order.paid",
        "order.shipped",
        "shipment.created",
        "shipment.delivered",
    ]
    rows = (
        await session.execute(
            select(WebhookDelivery.event_id, WebhookDelivery.event_type).where(
                WebhookDelivery.endpoint_id == uuid.UUID(endpoint["id"])
            )
        )
    ).all()
    assert sorted((str(i), t) for i, t in rows) == sorted((str(e.id), e.type) for e in events)
    orphans = await count(
        session,
        WebhookDelivery,
        ~select(OutboxEvent.id).where(OutboxEvent.id == WebhookDelivery.event_id).exists(),
    )
    assert orphans == 0

    # An event whose transaction rolls back leaves no delivery behind, and vice versa.
    events_before = await count(session, OutboxEvent)
    deliveries_before = await count(session, WebhookDelivery)

    async def emit_then_fail() -> None:
        async with database.session_scope() as doomed:
            event = await emit(
                doomed,
                "order.created",
                seller_id=uuid.UUID(m.seller_id),
                data={"order_id": order["id"]},
            )
            assert await count(doomed, WebhookDelivery, WebhookDelivery.event_id == event.id) == 1
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await emit_then_fail()
    assert await count(session, OutboxEvent) == events_before
    assert await count(session, WebhookDelivery) == deliveries_before


# --- retention ----------------------------------------------------------------------------------


async def ids_of(session: AsyncSession, column: Any, *where: Any) -> set[uuid.UUID]:
    return set(await session.scalars(select(column).where(*where)))


async def test_a_sweep_purges_what_outlived_the_retention_and_keeps_what_is_still_needed(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    receiver: WebhookReceiver,
    second_receiver: WebhookReceiver,
) -> None:
    """Older than `event_retention`: finished deliveries go with their attempts, read
    notifications go, events go once no delivery refers to them. A pending delivery (of a
    paused endpoint) keeps its event; unread notifications stay; younger rows stay."""
    clock.freeze()
    retention = settings.event_retention
    assert retention == timedelta(days=30)
    one_attempt = with_settings(settings, webhook_max_attempts=1)
    m = await market(client, session)
    working = await create_endpoint(client, who=m.seller, url=receiver.url_for("/working"))
    failing = await create_endpoint(client, who=m.seller, url=second_receiver.url_for("/failing"))
    paused = await create_endpoint(client, who=m.seller, url=receiver.url_for("/paused"))
    response = await patch_endpoint(client, who=m.seller, endpoint_id=paused["id"], enabled=False)
    assert response.status_code == 200, response.text
    second_receiver.respond_with(500)

    # Old: an order.created for each endpoint, sent once each: one succeeds, one fails for
    # good (and disables its endpoint), the paused one waits.
    old_order = await unpaid_order(client, market=m)
    assert await deliver_due_webhooks(database, one_attempt) == 2
    old = {d["endpoint_id"]: d for d in await list_deliveries(client, who=m.seller)}
    assert {e: d["status"] for e, d in old.items()} == {
        working["id"]: "succeeded",
        failing["id"]: "failed",
        paused["id"]: "pending",
    }
    read = await client.post("/v1/notifications/read-all", headers=m.seller.headers)
    assert read.status_code == 200, read.text
    # webhook_endpoint.disabled at least (an unpaid order is no news to the shop: issue 15)
    assert read.json()["marked"] >= 1
    await pay(
        client, who=m.buyer, checkout_id=old_order["checkout_id"]
    )  # order.paid: unread, no webhook

    # A second short of the retention nothing is old enough.
    clock.advance(retention - timedelta(seconds=1))
    assert (await sweep(database, settings))["purge_expired_events"] == 0

    clock.advance(timedelta(seconds=2))
    m = await relogin_market(client, market=m)
    young_order = await unpaid_order(
        client, market=m
    )  # young: sent to the working endpoint, waiting for the others
    assert await deliver_due_webhooks(database, settings) == 1
    await pay(client, who=m.buyer, checkout_id=young_order["checkout_id"])  # a young notice
    (young_notice,) = [
        n
        for n in (await client.get("/v1/notifications", headers=m.seller.headers)).json()["items"]
        if n["read_at"] is None and n["data"].get("order_id") == young_order["id"]
    ]
    marked = await client.post(
        f"/v1/notifications/{young_notice['id']}/read", headers=m.seller.headers
    )
    assert marked.status_code == 200, marked.text

    cutoff = clock.now() - retention
    deliveries_before = await ids_of(session, WebhookDelivery.id)
    assert len(deliveries_before) == 6  # three old, three young
    assert await count(session, WebhookAttempt) == 3  # old succeeded, old failed, young
    finished_old = {uuid.UUID(old[working["id"]]["id"]), uuid.UUID(old[failing["id"]]["id"])}
    notifications_before = await ids_of(session, Notification.id)
    old_read = await ids_of(
        session,
        Notification.id,
        Notification.read_at.is_not(None),
        Notification.created_at < cutoff,
    )
    assert len(notifications_before) == 3
    assert set(
        await session.scalars(select(Notification.type).where(Notification.id.in_(old_read)))
    ) == {"webhook_endpoint.disabled"}
    events_before = await ids_of(session, OutboxEvent.id)
    old_events = await ids_of(session, OutboxEvent.id, OutboxEvent.occurred_at < cutoff)
    assert len(events_before) == 4  # order.created and order.paid, old and young
    assert len(old_events) == 2
    still_queued = uuid.UUID(old[paused["id"]]["event_id"])
    assert still_queued in old_events

    done = await sweep(database, settings)

    assert done["deliver_webhooks"] == 0
    # Two deliveries, one notification, one event (the attempts go with their deliveries).
    assert done["purge_expired_events"] == 4
    assert await ids_of(session, WebhookDelivery.id) == deliveries_before - finished_old
    assert await count(session, WebhookDelivery) == 4
    assert await count(session, WebhookAttempt) == 1  # the young delivery's
    assert await ids_of(session, Notification.id) == notifications_before - old_read
    assert await count(session, Notification) == 2  # old unread order.paid, young read one
    assert await ids_of(session, OutboxEvent.id) == events_before - (old_events - {still_queued})
    assert await count(session, OutboxEvent) == 3
    # What is left still works: the paused endpoint, re-enabled, gets its old event.
    response = await patch_endpoint(client, who=m.seller, endpoint_id=paused["id"], enabled=True)
    assert response.status_code == 200, response.text
    assert await deliver_due_webhooks(database, settings) == 2
    paused_events = [r.event_id for r in receiver.requests if r.path == "/paused"]
    assert len(paused_events) == 2
    assert str(still_queued) in paused_events


# --- concurrent edits: ETag and If-Match (API.md) ----------------------------------------------

ENDPOINT_EDITS: list[Json] = [
    {"description": "order sync"},
    {"event_types": ["order.paid", "order.shipped"]},
    {"enabled": False},
    {"url": "https://new.example.com/hooks"},
]


async def test_an_endpoint_is_edited_only_as_last_read(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    endpoint = await create_endpoint(client, who=m.seller, url="https://shop.example.com/")
    url = f"{ENDPOINTS}/{endpoint['id']}"

    await assert_conditional_reads(client, url, m.seller.headers)
    await assert_conditional_edits(client, url, m.seller.headers, ENDPOINT_EDITS)


async def test_rotating_the_secret_makes_the_tag_stale(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The secret is never shown again, but a rotation is a change all the same."""
    m = await market(client, session)
    endpoint = await create_endpoint(client, who=m.seller, url="https://shop.example.com/")
    url = f"{ENDPOINTS}/{endpoint['id']}"
    tag = etag_of(await conditional_read(client, url, m.seller.headers))

    await rotate(client, m.seller, endpoint["id"])

    refused = await conditional_patch(
        client, url, m.seller.headers, {"description": "late"}, if_match=tag
    )
    assert_problem(refused, 412, "precondition_failed")
    assert (await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"]))[
        "description"
    ] is None


async def test_another_shops_endpoint_stays_not_found_whatever_the_tag(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    endpoint = await create_endpoint(client, who=m.seller, url="https://shop.example.com/")
    other, _ = await approved_seller(client, session, admin=m.admin)
    url = f"{ENDPOINTS}/{endpoint['id']}"
    tag = etag_of(await conditional_read(client, url, m.seller.headers))

    for if_match in (tag, "*"):
        response = await conditional_patch(
            client, url, other.headers, {"description": "x"}, if_match
        )
        assert_problem(response, 404, "not_found")


async def test_the_spec_documents_the_endpoint_tag_and_precondition(
    client: httpx.AsyncClient,
) -> None:
    item = (await client.get("/openapi.json")).json()["paths"][f"{ENDPOINTS}/{{endpoint_id}}"]

    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    assert "304" in item["get"]["responses"]
    assert "ETag" in item["patch"]["responses"]["200"]["headers"]
    assert "`precondition_failed`" in item["patch"]["responses"]["412"]["description"]
    assert "If-Match" in [p["name"] for p in item["patch"]["parameters"]]


@pytest.mark.postgres_only
async def test_of_two_editors_of_an_endpoint_with_the_same_tag_exactly_one_wins(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with committed_database.session_scope() as session:
        admin_account = await create_user(session, is_admin=True)
    admin = await login(committed_client, email=admin_account.email)
    seller, _ = await approved_seller(committed_client, session, admin=admin)  # session: unused
    endpoint = await create_endpoint(committed_client, who=seller, url="https://shop.example.com/")

    await assert_one_of_two_editors_wins(
        committed_client,
        f"{ENDPOINTS}/{endpoint['id']}",
        seller.headers,
        ({"description": "first editor"}, {"event_types": ["order.shipped"]}),
        webhooks_service,
        monkeypatch,
    )
