"""Every error is an RFC 9457 problem with a stable code: framework errors, ours, and crashes."""

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.db import Database
from app.core.observability import JsonFormatter
from app.main import create_app
from tests.factories.accounts import create_user, login
from tests.factories.api import assert_problem

REGISTER = "/v1/auth/register"


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _body_for(response: httpx.Response) -> dict[str, object]:
    body: dict[str, object] = response.json()
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize(
    "raw",
    [b"{bad", b'{"email": "a@example.com",', b"{'single': 'quotes'}", b"nul"],
)
async def test_malformed_json_is_400_malformed_json(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        REGISTER, content=raw, headers={"Content-Type": "application/json"}
    )

    body = assert_problem(response, 400, "malformed_json")
    _body_for(response)
    assert "errors" not in body


async def test_body_that_is_not_utf8_is_400_malformed_json(client: httpx.AsyncClient) -> None:
    # JSON text is UTF-8 (RFC 8259): bytes that do not decode are malformed JSON too, and the
    # client must get the same stable code as for any other unparsable body.
    response = await client.post(
        REGISTER, content=b'{"email": "\xff"}', headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 400, "malformed_json")


async def test_missing_fields_and_wrong_types_list_each_error(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, json={"email": 5, "display_name": ["x"]})

    body = assert_problem(response, 422, "validation_error")
    _body_for(response)
    errors = body["errors"]
    assert isinstance(errors, list)
    by_loc = {tuple(error["loc"]): error["msg"] for error in errors}
    assert set(by_loc) == {
        ("body", "email"),
        ("body", "password"),
        ("body", "display_name"),
    }
    assert by_loc[("body", "password")] == "Field required"
    assert all(isinstance(msg, str) and msg for msg in by_loc.values())
    # Only the documented keys: no pydantic internals (input values, urls, ctx) leak out.
    assert all(set(error) == {"loc", "msg"} for error in errors)
    assert body["detail"] == "3 field(s) failed validation"


async def test_validation_error_does_not_echo_the_submitted_values(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        REGISTER,
        json={"email": "ada@example.com", "password": "pw-8x7Q", "display_name": "Ada"},
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [
        {"loc": ["body", "password"], "msg": "String should have at least 10 characters"}
    ]
    assert "pw-8x7Q" not in response.text


async def test_unknown_body_field_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER,
        json={
            "email": "ada@example.com",
            "password": "a-long-test-password",
            "display_name": "Ada",
            "is_admin": True,
        },
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [
        {"loc": ["body", "is_admin"], "msg": "Extra inputs are not permitted"}
    ]


async def test_empty_json_body_is_a_missing_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, content=b"", headers={"Content-Type": "application/json"}
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [{"loc": ["body"], "msg": "Field required"}]


async def test_json_of_the_wrong_shape_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, json=["not", "an", "object"])

    body = assert_problem(response, 422, "validation_error")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [error["loc"] for error in errors] == [["body"]]


async def test_query_parameter_errors_carry_their_location(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await create_user(session, is_admin=True)
    me = await login(client, email=admin.email)

    response = await client.get("/v1/admin/users?limit=many", headers=me.headers)

    body = assert_problem(response, 422, "validation_error")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [error["loc"] for error in errors] == [["query", "limit"]]


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/nope", "/v1/auth/register/extra"])
async def test_unknown_route_is_404_not_found(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert_problem(response, 404, "not_found")
    _body_for(response)


async def test_unknown_resource_is_404_not_found(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await create_user(session, is_admin=True)
    me = await login(client, email=admin.email)

    response = await client.patch(
        f"/v1/admin/users/{uuid.uuid4()}", json={"is_admin": True}, headers=me.headers
    )

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/healthz", {"GET"}),
        ("PUT", REGISTER, {"POST"}),
        ("DELETE", "/v1/auth/token", {"POST"}),
        # One path, routes of two routers: the account's GET and PATCH, privacy's DELETE.
        ("PUT", "/v1/me", {"GET", "PATCH", "DELETE"}),
        ("PUT", f"/v1/listings/{uuid.uuid4()}", {"GET", "PATCH", "DELETE"}),
    ],
)
async def test_wrong_method_is_405_with_allow_header(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)

    assert_problem(response, 405, "method_not_allowed")
    _body_for(response)
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


async def test_missing_credentials_is_401_problem_with_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/me")

    assert_problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unhandled_exception_is_500_without_details_and_logged_with_request_id(
    settings: Settings, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, database=database)

    async def explode() -> None:
        raise RuntimeError("secret internal detail: dsn=postgresql://u:hunter2@db/x")

    app.add_api_route("/explode", explode, methods=["GET"])
    # create_app's logging setup replaces the root handlers, pytest's capture included:
    # put it back, rendering records with the app's own JSON formatter.
    caplog.handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(caplog.handler)
    try:
        async with serve(app) as client:
            response = await client.get("/explode")
    finally:
        root.removeHandler(caplog.handler)

    body = assert_problem(response, 500, "internal_error")
    request_id = response.headers["x-request-id"]
    assert body["request_id"] == request_id
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    for leak in ("secret internal detail", "hunter2", "RuntimeError", "Traceback", 'File "'):
        assert leak not in response.text

    errors = [r for r in caplog.records if r.name == "app.errors"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is RuntimeError
    logged = [json.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    error_lines = [entry for entry in logged if entry["logger"] == "app.errors"]
    assert len(error_lines) == 1
    entry = error_lines[0]
    assert entry["level"] == "ERROR"
    assert entry["request_id"] == request_id
    assert "GET /explode" in entry["message"]
    assert "Traceback" in entry["exception"]
    assert "secret internal detail" in entry["exception"]
