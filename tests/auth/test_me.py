"""GET/PATCH /v1/me: the caller's own account."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.factories.accounts import DEFAULT_PASSWORD, LoggedIn, create_user, login
from tests.factories.api import assert_problem, json_ok
from tests.factories.mail import mailed_token, mails_in_outbox

ME = "/v1/me"
NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
async def ada(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    user = await create_user(session, email="ada@example.com", display_name="Ada")
    return await login(client, email=user.email)


async def _patch(client: httpx.AsyncClient, me: LoggedIn, body: dict[str, Any]) -> httpx.Response:
    return await client.patch(ME, json=body, headers=me.headers)


async def _get(client: httpx.AsyncClient, me: LoggedIn) -> dict[str, Any]:
    body: dict[str, Any] = json_ok(await client.get(ME, headers=me.headers))
    return body


async def _login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/v1/auth/token", data={"username": email, "password": password})
    return response.status_code


def _locs(problem: dict[str, Any]) -> list[tuple[str | int, ...]]:
    return [tuple(error["loc"]) for error in problem["errors"]]


async def test_get_me_shape(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    response = await client.get(ME, headers=ada.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"id", "email", "display_name", "roles", "created_at"}
    assert uuid.UUID(body["id"]) == uuid.UUID(ada.user_id)
    assert body["email"] == "ada@example.com"
    assert body["display_name"] == "Ada"
    assert body["roles"] == ["buyer"]
    created_at = datetime.fromisoformat(body["created_at"])
    assert created_at.utcoffset() == UTC.utcoffset(None)
    assert created_at <= datetime.now(UTC)
    for secret in ("password", "password_hash", "hash", "is_admin"):
        assert secret not in body


async def test_admin_sees_the_admin_role(client: httpx.AsyncClient, session: AsyncSession) -> None:
    admin = await create_user(session, is_admin=True)
    me = await login(client, email=admin.email)

    assert (await _get(client, me))["roles"] == ["buyer", "admin"]


async def test_patch_display_name(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    response = await _patch(client, ada, {"display_name": "Countess Lovelace"})

    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Countess Lovelace"
    body = await _get(client, ada)
    assert body["display_name"] == "Countess Lovelace"
    assert body["email"] == "ada@example.com"


async def test_patch_with_empty_body_changes_nothing(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    before = await _get(client, ada)

    response = await _patch(client, ada, {})

    assert response.status_code == 200, response.text
    assert response.json() == {**before, "active_api_keys": None}


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {"roles": ["buyer", "admin"]},
        {"is_admin": True},
        {"is_seller": True},
        {"id": "01900000-0000-7000-8000-000000000000"},
        {"password": NEW_PASSWORD},
        {"display_name": "Ada", "nickname": "A"},
    ],
)
async def test_patch_with_unknown_field_is_422_and_changes_nothing(
    client: httpx.AsyncClient, ada: LoggedIn, body: dict[str, Any]
) -> None:
    response = await _patch(client, ada, body)

    problem = assert_problem(response, 422, "validation_error")
    unknown = next(key for key in body if key != "display_name")
    assert ("body", unknown) in _locs(problem)
    after = await _get(client, ada)
    assert after["roles"] == ["buyer"]
    assert after["display_name"] == "Ada"


@pytest.mark.parametrize("display_name", ["", "   ", "x" * 101, "Ada\x00", 5])
async def test_patch_with_invalid_display_name_is_422(
    client: httpx.AsyncClient, ada: LoggedIn, display_name: object
) -> None:
    response = await _patch(client, ada, {"display_name": display_name})

    problem = assert_problem(response, 422, "validation_error")
    assert ("body", "display_name") in _locs(problem)
    assert (await _get(client, ada))["display_name"] == "Ada"


async def test_patch_me_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.patch(ME, json={"display_name": "Nobody"})

    assert_problem(response, 401, "invalid_token")
    assert response.headers.get("WWW-Authenticate") == "Bearer"


# --- password ------------------------------------------------------------------------------------


@pytest.mark.parametrize("current_password", [None, ""])
async def test_password_change_without_current_password_is_422(
    client: httpx.AsyncClient, ada: LoggedIn, current_password: str | None
) -> None:
    body: dict[str, Any] = {"new_password": NEW_PASSWORD}
    if current_password is not None:
        body["current_password"] = current_password

    response = await _patch(client, ada, body)

    problem = assert_problem(response, 422, "validation_error")
    assert "current_password" in str(problem["errors"])
    assert await _login_status(client, ada.email, DEFAULT_PASSWORD) == 200
    assert await _login_status(client, ada.email, NEW_PASSWORD) == 401


async def test_the_spec_says_when_current_password_is_needed(client: httpx.AsyncClient) -> None:
    """Found by the fuzzer: an empty current_password was schema-valid but read as absent."""
    spec = (await client.get("/openapi.json")).json()
    update = spec["components"]["schemas"]["UserUpdate"]

    assert update["properties"]["current_password"]["anyOf"][0]["minLength"] == 1
    required_with = {
        next(iter(rule["if"]["required"])): rule["then"]["required"] for rule in update["allOf"]
    }
    assert required_with == {"email": ["current_password"], "new_password": ["current_password"]}


async def test_password_change_with_wrong_current_password_is_403(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    response = await _patch(
        client, ada, {"new_password": NEW_PASSWORD, "current_password": "not-the-password"}
    )

    assert_problem(response, 403, "wrong_password")
    assert await _login_status(client, ada.email, DEFAULT_PASSWORD) == 200
    assert await _login_status(client, ada.email, NEW_PASSWORD) == 401
    # The refused change revoked nothing.
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": ada.refresh_token})
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize(
    "new_password", ["", "short", "123456789", "p" * 257, "aaaaaaaaaa", "1234567890"]
)
async def test_weak_new_password_is_422(
    client: httpx.AsyncClient, ada: LoggedIn, new_password: str
) -> None:
    response = await _patch(
        client, ada, {"new_password": new_password, "current_password": DEFAULT_PASSWORD}
    )

    assert_problem(response, 422, "validation_error")
    assert await _login_status(client, ada.email, DEFAULT_PASSWORD) == 200


@pytest.mark.parametrize("new_password", ["ada@example.com", "ADA@Example.COM"])
async def test_new_password_equal_to_the_current_email_is_422(
    client: httpx.AsyncClient, ada: LoggedIn, new_password: str
) -> None:
    """The rule "the password is not the email" holds for a changed password too, not only at
    registration or when the email changes in the same request."""
    response = await _patch(
        client, ada, {"new_password": new_password, "current_password": DEFAULT_PASSWORD}
    )

    assert_problem(response, 422, "validation_error")
    assert await _login_status(client, ada.email, DEFAULT_PASSWORD) == 200


async def test_new_password_equal_to_the_new_email_is_422(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    response = await _patch(
        client,
        ada,
        {
            "email": "countess@example.com",
            "new_password": "Countess@Example.com",
            "current_password": DEFAULT_PASSWORD,
        },
    )

    assert_problem(response, 422, "validation_error")
    assert (await _get(client, ada))["email"] == "ada@example.com"


async def test_password_change_switches_the_password_and_ends_every_session(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    other_device = await login(client, email=ada.email)

    response = await _patch(
        client, ada, {"new_password": NEW_PASSWORD, "current_password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200, response.text
    assert "password" not in response.text
    assert await _login_status(client, ada.email, DEFAULT_PASSWORD) == 401
    assert await _login_status(client, ada.email, NEW_PASSWORD) == 200
    for refresh_token in (ada.refresh_token, other_device.refresh_token):
        refused = await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert_problem(refused, 401, "invalid_token")


async def test_password_change_ends_every_access_token_at_once(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    """Issue 13: the access tokens of the sessions opened before a password change (a thief's
    included) still read the account, `/v1/me/export` too, until they expired."""
    other_device = await login(client, email=ada.email)
    for who in (ada, other_device):
        assert (await client.get(f"{ME}/export", headers=who.headers)).status_code == 200

    changed = await _patch(
        client, ada, {"new_password": NEW_PASSWORD, "current_password": DEFAULT_PASSWORD}
    )
    assert changed.status_code == 200, changed.text

    for who in (ada, other_device):
        for path in (ME, f"{ME}/export"):
            assert_problem(await client.get(path, headers=who.headers), 401, "invalid_token")
    fresh = await login(client, email=ada.email, password=NEW_PASSWORD)
    assert (await client.get(f"{ME}/export", headers=fresh.headers)).status_code == 200


async def test_a_refused_password_change_ends_no_session(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    wrong = {"new_password": NEW_PASSWORD, "current_password": "not-the-password"}
    weak = {"new_password": "aaaaaaaaaa", "current_password": DEFAULT_PASSWORD}

    assert_problem(await _patch(client, ada, wrong), 403, "wrong_password")
    assert_problem(await _patch(client, ada, weak), 422, "validation_error")

    assert (await client.get(ME, headers=ada.headers)).status_code == 200


async def test_display_name_and_email_changes_end_no_session(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    changed = await _patch(
        client,
        ada,
        {
            "display_name": "Countess",
            "email": "countess@example.com",
            "current_password": DEFAULT_PASSWORD,
        },
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["active_api_keys"] is None
    # The new address waits for its link (tests/auth/test_email_verification.py).
    assert (await _get(client, ada))["pending_email"] == "countess@example.com"
    assert (await _get(client, ada))["display_name"] == "Countess"


@pytest.mark.parametrize(
    ("new_password", "why"),
    [
        pytest.param("aaaaaaaaaa", "Repeats", id="repeat"),
        pytest.param("1234567890", "common password", id="top-100"),
        pytest.param("ada@example.com2024", "your email address or name", id="the-email"),
        pytest.param("Lovelace2024!", "your email address or name", id="the-name"),
    ],
)
async def test_guessable_new_password_is_422_with_the_reason_and_counts_no_failure(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    new_password: str,
    why: str,
) -> None:
    user = await create_user(session, email="ada@example.com", display_name="Ada Lovelace")
    me = await login(client, email=user.email)

    for _ in range(settings.login_max_failures + 1):
        response = await _patch(
            client, me, {"new_password": new_password, "current_password": DEFAULT_PASSWORD}
        )
        problem = assert_problem(response, 422, "validation_error")
        [error] = problem["errors"]
        assert error["loc"] == ["body", "new_password"]
        assert error["msg"].startswith("this password is too easy to guess"), error
        assert why in error["msg"]

    # The current password was right each time: nothing counted towards the lockout.
    assert await _login_status(client, user.email, DEFAULT_PASSWORD) == 200


async def test_the_new_password_is_judged_against_the_new_email(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    response = await _patch(
        client,
        ada,
        {
            "email": "zephyrine@oakhollow.org",
            "new_password": "oakhollow2024",
            "current_password": DEFAULT_PASSWORD,
        },
    )

    problem = assert_problem(response, 422, "validation_error")
    assert [e["loc"] for e in problem["errors"]] == [["body", "new_password"]]
    assert (await _get(client, ada))["email"] == "ada@example.com"


async def test_sessions_opened_after_a_password_change_work(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    changed = await _patch(
        client, ada, {"new_password": NEW_PASSWORD, "current_password": DEFAULT_PASSWORD}
    )
    assert changed.status_code == 200, changed.text

    fresh = await login(client, email=ada.email, password=NEW_PASSWORD)

    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": fresh.refresh_token})
    assert refreshed.status_code == 200, refreshed.text


# --- email ---------------------------------------------------------------------------------------


async def test_email_change_without_current_password_is_422(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    response = await _patch(client, ada, {"email": "countess@example.com"})

    assert_problem(response, 422, "validation_error")
    assert (await _get(client, ada))["email"] == "ada@example.com"


async def test_email_change_with_wrong_current_password_is_403(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    response = await _patch(
        client, ada, {"email": "countess@example.com", "current_password": "not-the-password"}
    )

    assert_problem(response, 403, "wrong_password")
    assert (await _get(client, ada))["email"] == "ada@example.com"


async def test_email_change_is_pending_until_the_new_address_is_verified(
    client: httpx.AsyncClient, session: AsyncSession, ada: LoggedIn
) -> None:
    response = await _patch(
        client, ada, {"email": "Countess@Example.com", "current_password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200, response.text
    assert (response.json()["email"], response.json()["pending_email"]) == (
        "ada@example.com",
        "countess@example.com",
    )
    assert (await _get(client, ada))["pending_email"] == "countess@example.com"
    assert await _login_status(client, "ada@example.com", DEFAULT_PASSWORD) == 200
    assert await _login_status(client, "countess@example.com", DEFAULT_PASSWORD) == 401
    # A link to the new address, a notice to the current one.
    assert [m.template for m in await mails_in_outbox(session, to="countess@example.com")] == [
        "verify_email"
    ]
    assert [m.template for m in await mails_in_outbox(session, to="ada@example.com")] == [
        "email_change_requested"
    ]

    token = await mailed_token(session, to="countess@example.com", template="verify_email")
    verified = json_ok(await client.post("/v1/auth/verify-email", json={"token": token}))

    assert (verified["email"], verified["pending_email"]) == ("countess@example.com", None)
    assert (await _get(client, ada))["email"] == "countess@example.com"
    assert await _login_status(client, "countess@example.com", DEFAULT_PASSWORD) == 200
    assert await _login_status(client, "ada@example.com", DEFAULT_PASSWORD) == 401


@pytest.mark.parametrize("taken", ["grace@example.com", "Grace@Example.COM"])
async def test_email_change_to_an_email_in_use_answers_as_any_other(
    client: httpx.AsyncClient, session: AsyncSession, ada: LoggedIn, taken: str
) -> None:
    """Refusing at once (the 409 of old) would tell a signed-in stranger that the address has
    an account; the link mailed to it, which only its owner reads, cannot take it
    (tests/auth/test_email_verification.py: 409 there)."""
    grace = await create_user(session, email="grace@example.com")
    free = await _patch(
        client, ada, {"email": "nobody@example.com", "current_password": DEFAULT_PASSWORD}
    )

    response = await _patch(client, ada, {"email": taken, "current_password": DEFAULT_PASSWORD})

    assert response.status_code == free.status_code == 200, response.text
    assert set(response.json()) == set(free.json())
    assert (response.json()["email"], response.json()["pending_email"]) == (
        "ada@example.com",
        "grace@example.com",
    )
    assert (await _get(client, ada))["email"] == "ada@example.com"
    assert await _login_status(client, "grace@example.com", DEFAULT_PASSWORD) == 200
    assert await _login_status(client, "ada@example.com", DEFAULT_PASSWORD) == 200
    (link,) = await mails_in_outbox(session, to="grace@example.com")
    assert (link.template, str(link.user_id)) == ("verify_email", ada.user_id)
    assert link.user_id != grace.id


async def test_email_change_to_own_email_in_another_case_is_not_a_conflict(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    response = await _patch(
        client, ada, {"email": "ADA@example.com", "current_password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200, response.text
    assert response.json()["email"] == "ada@example.com"


async def test_email_change_to_the_current_password_is_422_not_wrong_password(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The new email would equal the (correct) current password. That breaks the "password is
    not the email" rule, a validation problem; answering `wrong_password` would tell the
    client that a correct password is wrong."""
    user = await create_user(session, email="ada@example.com", password="countess@example.com")
    me = await login(client, email=user.email, password="countess@example.com")

    response = await _patch(
        client, me, {"email": "countess@example.com", "current_password": "countess@example.com"}
    )

    assert_problem(response, 422, "validation_error")
    assert (await _get(client, me))["email"] == "ada@example.com"


async def test_email_change_is_rolled_back_with_the_rest_of_a_refused_patch(
    client: httpx.AsyncClient, session: AsyncSession, ada: LoggedIn
) -> None:
    """A refused PATCH (here: a guessable new password) changes nothing of what it asked:
    not the name, not the address, and no mail goes out."""
    response = await _patch(
        client,
        ada,
        {
            "display_name": "Not Applied",
            "email": "countess@example.com",
            "new_password": "aaaaaaaaaaaa",
            "current_password": DEFAULT_PASSWORD,
        },
    )

    assert_problem(response, 422, "validation_error")
    mine = await _get(client, ada)
    assert (mine["display_name"], mine["email"], mine["pending_email"]) == (
        "Ada",
        "ada@example.com",
        None,
    )
    assert await mails_in_outbox(session, to="countess@example.com") == []
    assert await mails_in_outbox(session, to="ada@example.com") == []
    assert await _login_status(client, ada.email, DEFAULT_PASSWORD) == 200


async def test_wrong_current_passwords_lock_out_like_failed_logins(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A stolen access token must not let anyone guess the password through the changes
    that ask for it (email, password, account deletion)."""
    user = await create_user(session)
    me = await login(client, email=user.email)
    for _ in range(settings.login_max_failures):
        wrong = await client.patch(
            ME,
            json={"email": "elsewhere@example.com", "current_password": "not-the-password"},
            headers=me.headers,
        )
        assert_problem(wrong, 403, "wrong_password")

    # Even the right password is refused now, here, on deletion and at login.
    for locked in (
        await client.patch(
            ME,
            json={"email": "elsewhere@example.com", "current_password": DEFAULT_PASSWORD},
            headers=me.headers,
        ),
        await client.request("DELETE", ME, json={"password": DEFAULT_PASSWORD}, headers=me.headers),
        await client.post(
            "/v1/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD}
        ),
    ):
        assert_problem(locked, 429, "too_many_login_attempts")
        assert int(locked.headers["retry-after"]) > 0
    unchanged = await client.get(ME, headers=me.headers)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["email"] == user.email
