"""Request ids, the body-size limit (declared and chunked) and content-type negotiation."""

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from app.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.factories.accounts import DEFAULT_PASSWORD, login
from tests.factories.api import assert_problem
from tests.factories.apps import make_settings
from tests.factories.mail import mails_in_outbox

REGISTER = "/v1/auth/register"
LIMIT = 1024
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@asynccontextmanager
async def small_body_client(
    settings: Settings, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(settings.database_url, max_body_bytes=LIMIT), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def queued_templates(database: Database, email: str) -> list[str]:
    """The mail queued for `email`: only `verify_email` means the registration that queued
    it found the address free (a taken one gets `registration_attempt`)."""
    async with database.session_scope() as session:
        return [m.template for m in await mails_in_outbox(session, to=email)]


def registration(email: str, *, size: int | None = None) -> bytes:
    """A valid registration body, padded with JSON whitespace to exactly `size` bytes."""
    raw = json.dumps(
        {"email": email, "password": DEFAULT_PASSWORD, "display_name": "Padded"}
    ).encode()
    if size is None:
        return raw
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


async def chunked(data: bytes, chunk_size: int = 300) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


# --- request ids -------------------------------------------------------------------------


@pytest.mark.parametrize("incoming", ["abc-123", "req_01.HX:7", "A" * 128, str(uuid.uuid4()), "0"])
async def test_valid_incoming_request_id_is_echoed(
    client: httpx.AsyncClient, incoming: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["A" * 129, "x" * 300, "has spaces in it", "semi;colon", 'quote"d', "slash/ed", "ünïcode"],
)
async def test_invalid_incoming_request_id_is_replaced(
    client: httpx.AsyncClient, incoming: str
) -> None:
    response = await client.get("/healthz", headers=[(b"X-Request-ID", incoming.encode("utf-8"))])

    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert request_id != incoming
    assert GENERATED_ID.fullmatch(request_id)


async def test_generated_request_ids_are_unique(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}

    assert len(ids) == 5
    assert all(GENERATED_ID.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/docs", 200),
        ("GET", "/static/swagger-ui/swagger-ui.css", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/no/such/route", 404),
        ("DELETE", "/healthz", 405),
        ("GET", "/v1/me", 401),
        ("POST", REGISTER, 422),
    ],
)
async def test_every_response_has_a_request_id(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)

    assert response.status_code == status
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


async def test_problem_body_carries_the_echoed_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me", headers={"X-Request-ID": "trace-42"})

    body = assert_problem(response, 401, "invalid_token")
    assert body["request_id"] == "trace-42"
    assert response.headers["x-request-id"] == "trace-42"


# --- body limit --------------------------------------------------------------------------


async def test_declared_body_over_the_limit_is_413_and_has_no_effect(
    settings: Settings, database: Database
) -> None:
    body = registration("big@example.com", size=LIMIT + 1)
    async with small_body_client(settings, database) as client:
        response = await client.post(
            REGISTER, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.request.headers["content-length"] == str(LIMIT + 1)

        problem = assert_problem(response, 413, "payload_too_large")
        assert problem["request_id"] == response.headers["x-request-id"]
        assert str(LIMIT) in str(problem["detail"])
        assert response.headers["connection"] == "close"

        # The refused registration never reached the app: the email is still free.
        assert await queued_templates(database, "big@example.com") == []
        again = await client.post(
            REGISTER,
            content=registration("big@example.com"),
            headers={"Content-Type": "application/json"},
        )
        assert again.status_code == 202, again.text
        assert await queued_templates(database, "big@example.com") == ["verify_email"]


async def test_chunked_body_over_the_limit_is_413(settings: Settings, database: Database) -> None:
    body = registration("chunky@example.com", size=3 * LIMIT)
    async with small_body_client(settings, database) as client:
        response = await client.post(
            REGISTER, content=chunked(body), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"

        problem = assert_problem(response, 413, "payload_too_large")
        assert problem["request_id"] == response.headers["x-request-id"]

        assert await queued_templates(database, "chunky@example.com") == []
        again = await client.post(
            REGISTER,
            content=registration("chunky@example.com"),
            headers={"Content-Type": "application/json"},
        )
        assert again.status_code == 202, again.text
        assert await queued_templates(database, "chunky@example.com") == ["verify_email"]


async def test_body_of_exactly_the_limit_is_accepted(
    settings: Settings, database: Database
) -> None:
    async with small_body_client(settings, database) as client:
        response = await client.post(
            REGISTER,
            content=registration("edge@example.com", size=LIMIT),
            headers={"Content-Type": "application/json"},
        )

        assert response.status_code == 202, response.text
        assert response.json()["email"] == "edge@example.com"
        await login(client, email="edge@example.com")


async def test_chunked_body_under_the_limit_reaches_the_app_intact(
    settings: Settings, database: Database
) -> None:
    body = registration("streamed@example.com", size=LIMIT)
    async with small_body_client(settings, database) as client:
        response = await client.post(
            REGISTER, content=chunked(body, 100), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in response.request.headers

        assert response.status_code == 202, response.text
        assert response.json()["email"] == "streamed@example.com"
        await login(client, email="streamed@example.com")


async def test_default_limit_accepts_ordinary_bodies_and_refuses_huge_ones(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.max_body_bytes == 1024 * 1024
    huge = registration("huge@example.com", size=settings.max_body_bytes + 1)

    response = await client.post(
        REGISTER, content=huge, headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 413, "payload_too_large")


# --- content types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/octet-stream"]
)
async def test_json_endpoint_refuses_other_media_types_with_415(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(
        REGISTER,
        content=registration("typed@example.com"),
        headers={"Content-Type": content_type},
    )

    problem = assert_problem(response, 415, "unsupported_media_type")
    assert content_type in str(problem["detail"])
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_json_endpoint_refuses_a_form_with_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER,
        data={"email": "form@example.com", "password": DEFAULT_PASSWORD, "display_name": "F"},
    )

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON"],
)
async def test_json_endpoint_accepts_json_media_types(
    client: httpx.AsyncClient, content_type: str
) -> None:
    email = f"json-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        REGISTER, content=registration(email), headers={"Content-Type": content_type}
    )

    assert response.status_code == 202, response.text
    assert response.json()["email"] == email


async def test_json_responses_and_problems_have_their_media_types(
    client: httpx.AsyncClient,
) -> None:
    ok = await client.get("/healthz")
    problem = await client.get("/v1/me")

    assert ok.headers["content-type"] == "application/json"
    assert problem.headers["content-type"] == "application/problem+json"
