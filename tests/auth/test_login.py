"""POST /v1/auth/token: the token pair, indistinguishable failures and the per-email lockout.

Lockout tests freeze the clock, so the window arithmetic (and `Retry-After`) is exact.
"""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import clock
from tests.factories.accounts import DEFAULT_PASSWORD, create_user
from tests.factories.api import assert_problem

TOKEN = "/v1/auth/token"
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def _error_locs(problem: dict[str, object]) -> list[tuple[object, ...]]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert errors
    return [tuple(error["loc"]) for error in errors]


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(TOKEN, data={"username": email, "password": password})


async def _fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        response = await _login(client, email, "not-the-password")
        assert_problem(response, 401, "invalid_credentials")


def _assert_locked(response: httpx.Response) -> int:
    """429 `too_many_login_attempts` with a sane `Retry-After`; returns its seconds."""
    assert_problem(response, 429, "too_many_login_attempts")
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    seconds = int(retry_after)
    assert 0 < seconds <= int(WINDOW.total_seconds())
    return seconds


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


async def test_login_returns_an_access_and_a_refresh_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email="ada@example.com")

    response = await _login(client, "ada@example.com", DEFAULT_PASSWORD)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "refresh_expires_in",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_expires_in"] == 30 * 24 * 3600
    assert body["access_token"] != body["refresh_token"]
    # Both are compact JWS strings.
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"].count(".") == 2

    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)


async def test_each_login_issues_distinct_tokens(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")

    first = (await _login(client, "ada@example.com", DEFAULT_PASSWORD)).json()
    second = (await _login(client, "ada@example.com", DEFAULT_PASSWORD)).json()

    assert first["access_token"] != second["access_token"]
    assert first["refresh_token"] != second["refresh_token"]


@pytest.mark.parametrize("typed", ["ADA@EXAMPLE.COM", "Ada@Example.com", "ada@EXAMPLE.com"])
async def test_email_is_case_insensitive_at_login(
    client: httpx.AsyncClient, session: AsyncSession, typed: str
) -> None:
    user = await create_user(session, email="ada@example.com")

    response = await _login(client, typed, DEFAULT_PASSWORD)

    assert response.status_code == 200, response.text
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["id"] == str(user.id)


async def test_password_is_case_sensitive(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await create_user(session, email="ada@example.com")

    response = await _login(client, "ada@example.com", DEFAULT_PASSWORD.upper())

    assert_problem(response, 401, "invalid_credentials")


async def test_unknown_email_and_wrong_password_are_indistinguishable(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")

    wrong_password = await _login(client, "ada@example.com", "not-the-password")
    unknown_email = await _login(client, "nobody@example.com", "not-the-password")

    first = assert_problem(wrong_password, 401, "invalid_credentials")
    second = assert_problem(unknown_email, 401, "invalid_credentials")
    assert _without_request_id(first) == _without_request_id(second)
    assert wrong_password.headers.get("WWW-Authenticate") == "Bearer"
    assert unknown_email.headers.get("WWW-Authenticate") == "Bearer"
    assert wrong_password.headers["content-type"] == unknown_email.headers["content-type"]


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"username": "ada@example.com"},
        {"password": DEFAULT_PASSWORD},
    ],
)
async def test_missing_form_fields_are_validation_errors(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    response = await client.post(TOKEN, data=form)

    problem = assert_problem(response, 422, "validation_error")
    missing = {"username", "password"} - set(form)
    locs = _error_locs(problem)
    for field in missing:
        assert ("body", field) in locs, locs


@pytest.mark.parametrize(
    "form",
    [
        {"username": "ada\x00@example.com", "password": DEFAULT_PASSWORD},
        {"username": "ada@example.com", "password": "x\x00" * 6},
        {"username": "", "password": DEFAULT_PASSWORD},
        {"username": "ada@example.com", "password": ""},
        {"username": "a" * 321, "password": DEFAULT_PASSWORD},
    ],
    ids=["nul-in-username", "nul-in-password", "empty-username", "empty-password", "long"],
)
async def test_bad_form_fields_are_validation_errors_and_not_failures(
    client: httpx.AsyncClient, session: AsyncSession, form: dict[str, str]
) -> None:
    """NUL in the username was a 500 on PostgreSQL (the lockout's query cannot compare it);
    the form's fields are held to what the spec says, like a JSON body's, and a refused form
    is not a failed login."""
    await create_user(session, email="ada@example.com")

    for _ in range(MAX_FAILURES):
        assert_problem(await client.post(TOKEN, data=form), 422, "validation_error")

    assert (await _login(client, "ada@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_five_failures_lock_the_email_even_for_the_right_password(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.freeze()
    await create_user(session, email="ada@example.com")

    await _fail(client, "ada@example.com", MAX_FAILURES)
    locked = await _login(client, "ada@example.com", DEFAULT_PASSWORD)

    assert _assert_locked(locked) == int(WINDOW.total_seconds())


async def test_four_failures_do_not_lock(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await create_user(session, email="ada@example.com")

    await _fail(client, "ada@example.com", MAX_FAILURES - 1)
    response = await _login(client, "ada@example.com", DEFAULT_PASSWORD)

    assert response.status_code == 200, response.text


async def test_locked_email_stays_locked_for_wrong_passwords_too(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")
    await _fail(client, "ada@example.com", MAX_FAILURES)

    for _ in range(3):
        _assert_locked(await _login(client, "ada@example.com", "not-the-password"))
    _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD))


async def test_lockout_counts_failures_whatever_the_email_case(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")
    for typed in ["ada@example.com", "ADA@example.com", "Ada@Example.com", "ada@EXAMPLE.COM"]:
        assert_problem(await _login(client, typed, "wrong-password"), 401, "invalid_credentials")
    assert_problem(await _login(client, "aDa@example.com", "wrong"), 401, "invalid_credentials")

    _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD))


async def test_unknown_emails_are_locked_out_as_well(client: httpx.AsyncClient) -> None:
    """Otherwise the lockout itself would reveal which emails have accounts."""
    await _fail(client, "nobody@example.com", MAX_FAILURES)

    _assert_locked(await _login(client, "nobody@example.com", "not-the-password"))


async def test_failures_for_another_email_are_unaffected(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")
    await create_user(session, email="grace@example.com")
    await _fail(client, "ada@example.com", MAX_FAILURES)

    other = await _login(client, "grace@example.com", DEFAULT_PASSWORD)
    assert other.status_code == 200, other.text
    # ...and a wrong password for the other email is an ordinary 401, not a lockout.
    assert_problem(
        await _login(client, "grace@example.com", "nope-nope"), 401, "invalid_credentials"
    )
    _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD))


async def test_lockout_ends_when_the_window_has_passed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")
    await _fail(client, "ada@example.com", MAX_FAILURES)
    _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD))

    clock.advance(timedelta(minutes=16))

    response = await _login(client, "ada@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text


async def test_retry_after_counts_down_and_is_exact(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.freeze()
    await create_user(session, email="ada@example.com")
    await _fail(client, "ada@example.com", MAX_FAILURES)

    clock.advance(timedelta(minutes=10))
    assert _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD)) == 300

    clock.advance(timedelta(minutes=5) - timedelta(seconds=1))
    assert _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD)) == 1

    # The moment Retry-After promised, the email is free again.
    clock.advance(timedelta(seconds=1))
    response = await _login(client, "ada@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text


async def test_the_window_slides_with_the_oldest_failure(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.freeze()
    await create_user(session, email="ada@example.com")
    await _fail(client, "ada@example.com", 1)
    clock.advance(timedelta(minutes=10))
    await _fail(client, "ada@example.com", MAX_FAILURES - 1)

    # Locked until the first failure leaves the window, five minutes from now.
    assert _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD)) == 300

    clock.advance(timedelta(minutes=5))
    response = await _login(client, "ada@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text


async def test_successful_login_resets_the_failure_count(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")

    await _fail(client, "ada@example.com", MAX_FAILURES - 1)
    assert (await _login(client, "ada@example.com", DEFAULT_PASSWORD)).status_code == 200

    # Without the reset these would be failures 5..8 and the login below would be refused.
    await _fail(client, "ada@example.com", MAX_FAILURES - 1)
    response = await _login(client, "ada@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text

    # The count restarts from zero: five fresh failures lock again.
    await _fail(client, "ada@example.com", MAX_FAILURES)
    _assert_locked(await _login(client, "ada@example.com", DEFAULT_PASSWORD))


async def test_json_body_is_not_accepted_by_the_form_endpoint(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_user(session, email="ada@example.com")

    response = await client.post(
        TOKEN, json={"username": "ada@example.com", "password": DEFAULT_PASSWORD}
    )

    # The OAuth2 password flow is a form; a JSON body carries none of its fields.
    problem = assert_problem(response, 422, "validation_error")
    locs = _error_locs(problem)
    assert ("body", "username") in locs
    assert ("body", "password") in locs
