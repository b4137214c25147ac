"""What a browser frontend needs: CORS for the configured origins only, security headers on
every response (errors included), HSTS in production, and the origins setting's parsing."""

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.config import DEVELOPMENT_CORS_ORIGINS, Environment, Settings
from app.core.db import Database
from app.main import create_app
from tests.factories.api import assert_problem
from tests.factories.apps import PRODUCTION_MAIL_AND_TOTP, make_settings

FRONTEND = "https://shop.example"
PASSWORD = "a-long-test-password"
PREFLIGHT = {"Access-Control-Request-Method": "POST"}


async def _client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def cors_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    configured = make_settings(settings.database_url, cors_origins=[FRONTEND])
    async for client in _client(configured, database):
        yield client


@pytest.fixture
async def any_origin_client(
    settings: Settings, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    configured = make_settings(settings.database_url, cors_origins=["*"])
    async for client in _client(configured, database):
        yield client


async def test_preflight_from_a_configured_origin_is_answered(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        "/v1/auth/token",
        headers={
            "Origin": FRONTEND,
            **PREFLIGHT,
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key"):
        assert header in allowed_headers
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_preflight_from_another_origin_is_a_problem(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        "/v1/listings", headers={"Origin": "https://evil.example", **PREFLIGHT}
    )

    problem = assert_problem(response, 400, "cors_preflight_refused")
    assert "origin" in str(problem["detail"]).lower()
    assert "access-control-allow-origin" not in response.headers


async def test_a_configured_origin_can_read_answers_and_errors(
    cors_client: httpx.AsyncClient,
) -> None:
    ok = await cors_client.get("/v1/categories", headers={"Origin": FRONTEND})
    refused = await cors_client.get("/v1/me", headers={"Origin": FRONTEND})

    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == FRONTEND
    assert_problem(refused, 401, "invalid_token")
    # A script can read the error, and the headers it needs to act on it.
    assert refused.headers["access-control-allow-origin"] == FRONTEND
    exposed = refused.headers["access-control-expose-headers"].lower()
    for header in ("retry-after", "x-request-id", "etag", "ratelimit-remaining"):
        assert header in exposed


async def test_another_origin_gets_no_cors_headers(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.get("/v1/categories", headers={"Origin": "https://evil.example"})

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_any_origin_never_comes_with_credentials(
    any_origin_client: httpx.AsyncClient,
) -> None:
    response = await any_origin_client.options(
        "/v1/listings", headers={"Origin": "https://anyone.example", **PREFLIGHT}
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/categories", 200), ("/v1/me", 401), ("/v1/nowhere", 404), ("/healthz", 200)],
)
async def test_api_answers_carry_security_headers(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)

    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    # Answers may carry tokens or personal data: never kept by a shared cache.
    assert response.headers["cache-control"] == "no-store"
    # Outside production there is no HSTS (a developer's http://localhost must keep working).
    assert "strict-transport-security" not in response.headers


async def test_token_answers_are_never_stored_by_a_cache(client: httpx.AsyncClient) -> None:
    """RFC 6749 section 5.1: a response carrying tokens says no-store."""
    await client.post(
        "/v1/auth/register",
        json={"email": "cache@example.com", "password": PASSWORD, "display_name": "Cache"},
    )

    response = await client.post(
        "/v1/auth/token", data={"username": "cache@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200, response.text
    assert "access_token" in response.json()
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_console_may_be_framed_by_itself_and_loads_only_its_own_files(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_production_adds_hsts(database: Database) -> None:
    # Production settings refuse SQLite, so they name a PostgreSQL URL; the app is handed
    # the test's own database and never uses that URL.
    production = make_settings(
        "postgresql+asyncpg://unused@127.0.0.1:1/unused",
        environment=Environment.production,
        jwt_secret="kV9-rL2qT7sW4yB1nM6pX3cZ8aF5dH0jK2gE7uR4tY9",
        password_hash_memory_kib=19 * 1024,
        **PRODUCTION_MAIL_AND_TOTP,
    )
    async for client in _client(production, database):
        response = await client.get("/healthz")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "includeSubDomains" in response.headers["strict-transport-security"]


def test_origins_setting_takes_json_or_comma_separated_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MARKETPLACE_CORS_ORIGINS", "https://a.example, http://localhost:5173")
    assert Settings().allowed_cors_origins == ("https://a.example", "http://localhost:5173")
    monkeypatch.setenv("MARKETPLACE_CORS_ORIGINS", '["https://b.example:8443"]')
    assert Settings().allowed_cors_origins == ("https://b.example:8443",)


@pytest.mark.parametrize("origin", ["https://a.example/", "a.example", "https://a.example/app"])
def test_origins_setting_refuses_what_a_browser_never_sends(
    monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    monkeypatch.setenv("MARKETPLACE_CORS_ORIGINS", origin)

    with pytest.raises(ValidationError, match="is not an origin"):
        Settings()


def test_default_origins_are_local_dev_servers_in_development_only() -> None:
    development = Settings(environment=Environment.development)
    test = Settings(environment=Environment.test)

    assert development.allowed_cors_origins == DEVELOPMENT_CORS_ORIGINS
    assert "http://localhost:5173" in development.allowed_cors_origins
    assert test.allowed_cors_origins == ()


async def test_the_app_starts_up_and_shuts_down_through_the_cors_layer(settings: Settings) -> None:
    """A lifespan scope has no headers: the CORS layer read them anyway, the startup failed
    and `serve` ran without its in-process worker (uvicorn only logs "ASGI 'lifespan'
    protocol appears unsupported")."""
    app = create_app(make_settings(settings.database_url, cors_origins=[FRONTEND]))
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
