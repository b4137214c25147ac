"""Rate limits: per-client budgets on login, registration, password and token endpoints,
search and writes; 429 `rate_limited` with Retry-After and RateLimit-* headers; the client's
address behind trusted proxies only; one budget across processes through Redis, and service
as usual when Redis is down.

Each test builds its own app with limits on (the shared test app runs without them) and
tiny limits, so that a budget runs out in a few requests.
"""

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from copy import deepcopy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from limits.aio.storage import RedisStorage
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core import ratelimit
from app.core.db import Database
from app.core.ratelimit import client_address, document_rate_limits
from app.main import create_app
from tests.factories.accounts import LoggedIn, create_user, login
from tests.factories.api import assert_problem
from tests.factories.apps import make_settings

REDIS_URL = os.environ.get("MARKETPLACE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Nothing listens on port 1: connections are refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"

TOKEN = "/v1/auth/token"
REGISTER = "/v1/auth/register"
SEARCH = "/v1/listings"
WRITE = "/v1/notifications/read-all"
BUDGET_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


def limited_app(settings: Settings, database: Database, **overrides: object) -> FastAPI:
    configured = make_settings(settings.database_url, rate_limits_enabled=True, **overrides)
    return create_app(configured, database=database)


def client_of(app: FastAPI, address: str = "203.0.113.7") -> httpx.AsyncClient:
    """A client connecting from `address` (the peer address the app sees)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def failed_login(client: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
    # A fresh unknown email each time: the per-email lockout never comes into play.
    form = {"username": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "wrong-pw"}
    return await client.post(TOKEN, data=form, **kwargs)


def budget(response: httpx.Response) -> tuple[int, int, int]:
    limit, remaining, reset = (int(response.headers[name]) for name in BUDGET_HEADERS)
    return limit, remaining, reset


def assert_rate_limited(response: httpx.Response) -> int:
    """The 429 problem with its headers; the seconds it says to wait."""
    assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    _limit, remaining, reset = budget(response)
    assert remaining == 0
    assert reset == retry_after
    return retry_after


# --- login, registration, addresses --------------------------------------------------------


async def test_login_over_its_limit_is_429_with_retry_after_and_budget_headers(
    settings: Settings, database: Database
) -> None:
    app = limited_app(
        settings, database, rate_limit_login="3/minute", cors_origins=["https://shop.example"]
    )
    async with client_of(app) as client:
        answers = [await failed_login(client) for _ in range(3)]
        refused = await failed_login(client, headers={"Origin": "https://shop.example"})

    assert [r.status_code for r in answers] == [401, 401, 401]
    assert [budget(r)[:2] for r in answers] == [(3, 2), (3, 1), (3, 0)]
    assert all(1 <= budget(r)[2] <= 60 for r in answers)
    assert 1 <= assert_rate_limited(refused) <= 60
    assert refused.json()["request_id"] == refused.headers["x-request-id"]
    # Refused like any other answer: with CORS and security headers for the browser.
    assert refused.headers["access-control-allow-origin"] == "https://shop.example"
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
    assert refused.headers["x-content-type-options"] == "nosniff"


async def test_a_refused_request_never_reaches_the_endpoint(
    settings: Settings, database: Database
) -> None:
    app = limited_app(settings, database, rate_limit_registration="1/hour")
    first, second = (f"new-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2))
    password = "a-long-test-password"
    async with client_of(app) as client:
        created = await client.post(
            REGISTER, json={"email": first, "password": password, "display_name": "First"}
        )
        refused = await client.post(
            REGISTER, json={"email": second, "password": password, "display_name": "Second"}
        )
    async with client_of(app, "198.51.100.1") as elsewhere:
        second_login = await elsewhere.post(TOKEN, data={"username": second, "password": password})

    assert created.status_code == 202
    assert budget(created)[:2] == (1, 0)
    assert_rate_limited(refused)
    assert_problem(second_login, 401, "invalid_credentials")


async def test_each_address_has_its_own_budget(settings: Settings, database: Database) -> None:
    app = limited_app(settings, database, rate_limit_login="2/minute")
    async with client_of(app, "203.0.113.7") as first, client_of(app, "198.51.100.1") as second:
        for _ in range(2):
            await failed_login(first)
        assert_rate_limited(await failed_login(first))

        answer = await second.post(TOKEN, data={"username": "x@example.com", "password": "pw"})

    assert answer.status_code == 401
    assert budget(answer)[:2] == (2, 1)


async def test_an_ipv6_client_is_counted_by_its_64_network(
    settings: Settings, database: Database
) -> None:
    """A subscriber holds a whole /64: its addresses share one budget."""
    app = limited_app(settings, database, rate_limit_login="2/minute")
    async with (
        client_of(app, "2001:db8:1:2::1") as one,
        client_of(app, "2001:db8:1:2:ffff::9") as same_network,
        client_of(app, "2001:db8:1:3::1") as next_network,
    ):
        await failed_login(one)
        await failed_login(same_network)
        assert_rate_limited(await failed_login(one))

        assert (await failed_login(next_network)).status_code == 401


async def test_x_forwarded_for_is_ignored_unless_from_a_trusted_proxy(
    settings: Settings, database: Database
) -> None:
    app = limited_app(settings, database, rate_limit_login="2/minute")
    async with client_of(app, "203.0.113.7") as client:
        for n in range(2):
            await failed_login(client, headers={"X-Forwarded-For": f"192.0.2.{n}"})

        refused = await failed_login(client, headers={"X-Forwarded-For": "192.0.2.99"})

    assert_rate_limited(refused)


async def test_behind_trusted_proxies_the_right_most_untrusted_address_is_the_client(
    settings: Settings, database: Database
) -> None:
    app = limited_app(settings, database, rate_limit_login="2/minute", trusted_proxies="10.0.0.0/8")
    # The client claims to be 192.0.2.66; the outer proxy saw it as 203.0.113.7 and the inner
    # proxy (10.0.0.2) saw the outer one; the app sees the inner one.
    forwarded = {"X-Forwarded-For": "192.0.2.66, 203.0.113.7, 10.0.0.2"}
    async with client_of(app, "10.0.0.1") as proxy:
        for _ in range(2):
            await failed_login(proxy, headers=forwarded)
        # Another claim from the same client changes nothing.
        claimed = await failed_login(
            proxy, headers={"X-Forwarded-For": "192.0.2.67, 203.0.113.7, 10.0.0.2"}
        )
        another_client = await failed_login(
            proxy, headers={"X-Forwarded-For": "198.51.100.1, 10.0.0.2"}
        )

    assert_rate_limited(claimed)
    assert another_client.status_code == 401
    assert budget(another_client)[:2] == (2, 1)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        pytest.param("203.0.113.7", "192.0.2.1", "203.0.113.7", id="untrusted-peer"),
        pytest.param("10.0.0.1", None, "10.0.0.1", id="proxy-without-header"),
        pytest.param("10.0.0.1", "192.0.2.1, 203.0.113.7", "203.0.113.7", id="right-most"),
        pytest.param("10.0.0.1", "203.0.113.7, 10.0.0.9", "203.0.113.7", id="through-proxies"),
        pytest.param("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3", id="all-trusted"),
        pytest.param("10.0.0.1", "203.0.113.7, junk", "10.0.0.1", id="junk-from-a-proxy"),
        pytest.param("::1", "2001:db8::5", "2001:db8::5", id="ipv6"),
    ],
)
def test_client_address(peer: str, forwarded: str | None, client: str) -> None:
    settings = Settings(trusted_proxies="10.0.0.0/8,::1")
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    scope = {"type": "http", "client": (peer, 1), "headers": headers}

    assert client_address(scope, tuple(settings.trusted_proxies)) == client


# --- per client: search and writes -------------------------------------------------------------


@pytest.fixture
async def two_users(
    settings: Settings, database: Database, session: AsyncSession
) -> tuple[LoggedIn, LoggedIn]:
    first = await create_user(session)
    second = await create_user(session)
    unlimited = make_settings(settings.database_url, rate_limits_enabled=False)
    async with client_of(create_app(unlimited, database=database)) as client:
        return await login(client, email=first.email), await login(client, email=second.email)


async def test_writes_are_counted_per_user(
    settings: Settings, database: Database, two_users: tuple[LoggedIn, LoggedIn]
) -> None:
    alice, bob = two_users
    app = limited_app(settings, database, rate_limit_writes="2/minute")
    async with client_of(app) as client:
        for _ in range(2):
            assert (await client.post(WRITE, headers=alice.headers)).status_code == 200
        alice_refused = await client.post(WRITE, headers=alice.headers)
        # Bob writes from the same address with a budget of his own, and so does the address.
        bob_answer = await client.post(WRITE, headers=bob.headers)
        anonymous = await client.post(WRITE)

    assert_rate_limited(alice_refused)
    assert bob_answer.status_code == 200
    assert budget(bob_answer)[:2] == (2, 1)
    assert_problem(anonymous, 401, "invalid_token")
    assert budget(anonymous)[:2] == (2, 1)


async def test_a_forged_token_spends_the_address_budget(
    settings: Settings, database: Database, two_users: tuple[LoggedIn, LoggedIn]
) -> None:
    alice, _ = two_users
    header, payload, _signature = alice.access_token.split(".")
    forged = {"Authorization": f"Bearer {header}.{payload}.c2lnbmF0dXJl"}
    app = limited_app(settings, database, rate_limit_writes="2/minute")
    async with client_of(app) as client:
        for _ in range(2):
            await client.post(WRITE)
        refused = await client.post(WRITE, headers=forged)
        alice_answer = await client.post(WRITE, headers=alice.headers)

    assert_rate_limited(refused)
    assert alice_answer.status_code == 200


async def test_an_api_key_has_a_budget_of_its_own(settings: Settings, database: Database) -> None:
    app = limited_app(settings, database, rate_limit_writes="1/minute")
    key, other_key = (f"mk_{uuid.uuid4().hex}" for _ in range(2))
    async with client_of(app) as client:
        await client.post(WRITE, headers={"Authorization": f"Bearer {key}"})
        refused = await client.post(WRITE, headers={"Authorization": f"Bearer {key}"})
        other = await client.post(WRITE, headers={"Authorization": f"Bearer {other_key}"})

    assert_rate_limited(refused)
    assert other.status_code == 401
    assert budget(other)[:2] == (1, 0)


async def test_search_is_limited_per_client_and_other_reads_are_not(
    settings: Settings, database: Database, two_users: tuple[LoggedIn, LoggedIn]
) -> None:
    alice, _ = two_users
    app = limited_app(settings, database, rate_limit_search="2/minute")
    async with client_of(app) as client:
        searches = [await client.get(SEARCH, params={"q": "lamp"}) for _ in range(2)]
        refused = await client.get(SEARCH)
        signed_in = await client.get(SEARCH, headers=alice.headers)
        one_listing = await client.get(f"{SEARCH}/{uuid.uuid4()}")
        health = await client.get("/healthz")

    assert [r.status_code for r in searches] == [200, 200]
    assert [budget(r)[:2] for r in searches] == [(2, 1), (2, 0)]
    assert_rate_limited(refused)
    assert signed_in.status_code == 200
    for unlimited in (one_listing, health):
        assert not set(BUDGET_HEADERS) & set(unlimited.headers)


async def test_limits_are_off_when_disabled(settings: Settings, database: Database) -> None:
    configured = make_settings(
        settings.database_url, rate_limits_enabled=False, rate_limit_login="1/minute"
    )
    app = create_app(configured, database=database)
    async with client_of(app) as client:
        answers = [await failed_login(client) for _ in range(3)]

    assert [r.status_code for r in answers] == [401, 401, 401]
    assert not set(BUDGET_HEADERS) & set(answers[-1].headers)


def test_limits_are_on_unless_switched_off() -> None:
    assert Settings.model_fields["rate_limits_enabled"].default is True


@pytest.mark.parametrize("refused", ["ten per minute", "10/minute;100/hour", "0/minute", ""])
def test_a_limit_setting_must_be_one_readable_limit(refused: str) -> None:
    with pytest.raises(ValueError, match="rate_limit_login"):
        Settings(rate_limit_login=refused)


# --- Redis: one budget for all processes, and service when it is down ---------------------


@pytest.fixture
async def redis_keys() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys (and only they) are deleted afterwards."""
    prefix = f"marketplace-test-{uuid.uuid4().hex}"
    yield prefix
    await RedisStorage(f"async+{REDIS_URL}", key_prefix=prefix).reset()


async def test_processes_sharing_redis_share_one_budget(
    settings: Settings, database: Database, redis_keys: str
) -> None:
    # Two apps are two processes: neither sees the other's memory.
    first, second = (
        limited_app(
            settings,
            database,
            rate_limit_login="3/minute",
            redis_url=REDIS_URL,
            rate_limit_key_prefix=redis_keys,
        )
        for _ in range(2)
    )
    async with client_of(first) as one, client_of(second) as other:
        await failed_login(one)
        await failed_login(other)
        last = await failed_login(one)
        refused = await failed_login(other)

    assert budget(last)[:2] == (3, 0)
    assert_rate_limited(refused)


@contextmanager
def storage_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """The limiter's warnings while the block runs. Enter it after building the app, which
    replaces the root logger's handlers (pytest's capture among them)."""
    root = logging.getLogger()
    root.addHandler(caplog.handler)
    warnings: list[str] = []
    try:
        with caplog.at_level(logging.WARNING, logger=ratelimit.__name__):
            yield warnings
    finally:
        root.removeHandler(caplog.handler)
        warnings.extend(
            r.getMessage() for r in caplog.records if "storage unreachable" in r.getMessage()
        )


async def test_requests_are_served_unlimited_while_redis_is_down(
    settings: Settings, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    app = limited_app(settings, database, rate_limit_login="1/minute", redis_url=UNREACHABLE_REDIS)
    with storage_warnings(caplog) as warnings:
        async with client_of(app) as client:
            answers = [await failed_login(client) for _ in range(3)]

    assert [r.status_code for r in answers] == [401, 401, 401]
    assert not set(BUDGET_HEADERS) & set(answers[0].headers)
    # Tried once, then left alone for a while: one warning, not one per request.
    assert len(warnings) == 1


async def test_redis_is_tried_again_after_the_pause(
    settings: Settings,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ratelimit, "STORAGE_RETRY_SECONDS", 0.0)
    app = limited_app(settings, database, redis_url=UNREACHABLE_REDIS)
    with storage_warnings(caplog) as warnings:
        async with client_of(app) as client:
            for _ in range(2):
                assert (await failed_login(client)).status_code == 401

    assert len(warnings) == 2


# --- the spec ----------------------------------------------------------------------------

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_SMALL_SPEC: dict[str, Any] = {
    "paths": {
        "/v1/auth/token": {
            "post": {
                "responses": {
                    "200": {"description": "Tokens"},
                    "429": {"description": "`too_many_login_attempts`: locked", "content": {}},
                }
            }
        },
        "/v1/listings": {
            "get": {"responses": {"200": {"description": "A page"}}},
            "post": {"responses": {"201": {"description": "Created"}}},
        },
        "/v1/listings/{listing_id}": {"get": {"responses": {"200": {"description": "One"}}}},
        "/healthz": {"get": {"responses": {"200": {"description": "Up"}}}},
    }
}


def test_document_rate_limits_marks_every_limited_operation() -> None:
    spec = deepcopy(_SMALL_SPEC)

    document_rate_limits(spec, Settings(rate_limit_login="7/minute"))

    paths = spec["paths"]
    login = paths["/v1/auth/token"]["post"]["responses"]
    assert login["429"]["description"] == (
        "`too_many_login_attempts`: locked / `rate_limited`: more than 7 per 1 minute (per address)"
    )
    assert login["429"]["headers"]["Retry-After"]["required"] is True
    search = paths["/v1/listings"]["get"]["responses"]
    assert search["429"]["content"] == _PROBLEM
    assert search["429"]["description"] == (
        "`rate_limited`: more than 120 per 1 minute (per client)"
    )
    for responses in (login, search, paths["/v1/listings"]["post"]["responses"]):
        success = next(r for status, r in responses.items() if status.startswith("2"))
        assert set(success["headers"]) == {
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
        }
        assert not any(header.get("required") for header in success["headers"].values())
        assert {"Retry-After", "RateLimit-Limit"} <= set(responses["429"]["headers"])
    assert paths["/v1/listings/{listing_id}"] == _SMALL_SPEC["paths"]["/v1/listings/{listing_id}"]
    assert paths["/healthz"] == _SMALL_SPEC["paths"]["/healthz"]


def test_every_rule_covers_an_operation_of_the_api(settings: Settings, database: Database) -> None:
    """A rule whose paths match nothing (a renamed route) would limit nothing, silently."""
    spec = create_app(settings, database=database).openapi()
    covered = {
        rule.name
        for path, item in spec["paths"].items()
        for method in item
        if (rule := ratelimit.rule_for(method.upper(), path)) is not None
    }

    assert covered == {rule.name for rule in ratelimit.RULES}
