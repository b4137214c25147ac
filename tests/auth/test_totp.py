"""The TOTP second factor: enrolling and confirming it, logging in with a code or a recovery
code (each once), disabling it, new recovery codes, the lockout, and admins who must have one.

The clock is frozen at the start of a 30-second step and moved, so the code an app would show
is exact."""

import asyncio
import base64
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import RecoveryCode, User
from app.config import Settings
from app.core.audit import AuditEntry
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import (
    DEFAULT_PASSWORD,
    LoggedIn,
    create_user,
    login,
    register_and_login,
)
from tests.factories.api import assert_problem, json_ok
from tests.factories.apps import client_with, make_settings
from tests.factories.privacy import delete_me, export

TOKEN = "/v1/auth/token"
TOTP = "/v1/me/totp"
STEP = timedelta(seconds=30)
RECOVERY_CODE = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$")


@pytest.fixture(autouse=True)
def _step_aligned_clock() -> None:
    """Frozen one second into a time step: codes of this step stay valid until advanced."""
    real = datetime.now(UTC).replace(microsecond=0)
    clock.freeze(real - timedelta(seconds=real.timestamp() % 30) + timedelta(seconds=1))


def code_now(secret: str, *, steps: int = 0) -> str:
    """What an authenticator app holding `secret` shows now (`steps` away)."""
    return pyotp.TOTP(secret).at(clock.now(), counter_offset=steps)


def next_step() -> None:
    clock.advance(STEP)


async def token(
    client: httpx.AsyncClient, email: str, *, code: str | None = None, password: str | None = None
) -> httpx.Response:
    form = {"username": email, "password": password or DEFAULT_PASSWORD}
    if code is not None:
        form["client_secret"] = code
    return await client.post(TOKEN, data=form)


async def enrol(client: httpx.AsyncClient, *, who: LoggedIn) -> str:
    """Enrolled and confirmed; returns the secret. The confirming code's step is spent."""
    secret = await start_enrolment(client, who=who)
    await confirm(client, who=who, code=code_now(secret))
    return secret


async def start_enrolment(client: httpx.AsyncClient, *, who: LoggedIn) -> str:
    response = await client.post(TOTP, json={"password": DEFAULT_PASSWORD}, headers=who.headers)
    body = json_ok(response, 201)
    secret: str = body["secret"]
    return secret


async def confirm(client: httpx.AsyncClient, *, who: LoggedIn, code: str) -> list[str]:
    response = await client.post(f"{TOTP}/confirm", json={"code": code}, headers=who.headers)
    codes: list[str] = json_ok(response)["recovery_codes"]
    return codes


async def user_row(session: AsyncSession, email: str) -> User:
    user = await session.scalar(
        select(User).where(User.email == email).execution_options(populate_existing=True)
    )
    assert user is not None
    return user


async def unused_recovery_codes(session: AsyncSession, user_id: str) -> int:
    statement = select(func.count()).where(
        RecoveryCode.user_id == uuid.UUID(user_id), RecoveryCode.used_at.is_(None)
    )
    return int(await session.scalar(statement) or 0)


async def test_enrol_confirm_then_logins_need_a_code_each_good_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    me = await register_and_login(client)

    response = await client.post(TOTP, json={"password": DEFAULT_PASSWORD}, headers=me.headers)

    body = json_ok(response, 201)
    assert response.headers["cache-control"] == "no-store"
    secret = body["secret"]
    uri = pyotp.parse_uri(body["otpauth_uri"])
    assert isinstance(uri, pyotp.TOTP)
    assert uri.secret == secret
    assert uri.issuer == settings.totp_issuer
    assert uri.name == me.email
    stored = await user_row(session, me.email)
    assert stored.totp_secret is not None
    assert secret not in stored.totp_secret  # encrypted at rest
    # Not confirmed yet: logins need no code.
    assert json_ok(await client.get("/v1/me", headers=me.headers))["totp_enabled"] is False
    json_ok(await token(client, me.email))

    recovery_codes = await confirm(client, who=me, code=code_now(secret))

    assert len(recovery_codes) == 10
    assert len(set(recovery_codes)) == 10
    assert all(RECOVERY_CODE.match(code) for code in recovery_codes), recovery_codes
    assert json_ok(await client.get("/v1/me", headers=me.headers))["totp_enabled"] is True

    # The confirming code is spent; so is every code of its step.
    assert_problem(await token(client, me.email, code=code_now(secret)), 401, "invalid_totp_code")
    next_step()
    assert_problem(await token(client, me.email), 401, "totp_required")
    assert_problem(await token(client, me.email, code="000000"), 401, "invalid_totp_code")
    assert_problem(
        await token(client, me.email, code=code_now(secret), password="not-the-password"),
        401,
        "invalid_credentials",
    )

    tokens = json_ok(await token(client, me.email, code=code_now(secret)))

    me_again = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert json_ok(me_again)["id"] == me.user_id
    replayed = await token(client, me.email, code=code_now(secret))
    assert_problem(replayed, 401, "invalid_totp_code")
    next_step()
    json_ok(await token(client, me.email, code=code_now(secret)))


async def test_a_code_of_the_neighbouring_step_works_but_not_older_ones(
    client: httpx.AsyncClient,
) -> None:
    me = await register_and_login(client)
    secret = await enrol(client, who=me)
    for _ in range(3):
        next_step()

    too_old = await token(client, me.email, code=code_now(secret, steps=-2))
    assert_problem(too_old, 401, "invalid_totp_code")
    json_ok(await token(client, me.email, code=code_now(secret, steps=-1)))
    json_ok(await token(client, me.email, code=code_now(secret, steps=1)))
    # After a later step's code, an earlier one is refused even within the window.
    earlier = await token(client, me.email, code=code_now(secret))
    assert_problem(earlier, 401, "invalid_totp_code")


async def test_a_recovery_code_logs_in_once_however_it_is_typed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    me = await register_and_login(client)
    secret = await start_enrolment(client, who=me)
    first, second, *_ = await confirm(client, who=me, code=code_now(secret))

    json_ok(await token(client, me.email, code=f" {first.upper()} "))

    assert_problem(await token(client, me.email, code=first), 401, "invalid_totp_code")
    json_ok(await token(client, me.email, code=second.replace("-", "")))
    assert await unused_recovery_codes(session, me.user_id) == 8


async def test_disabling_needs_password_and_code_and_logins_need_no_code_after(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    me = await register_and_login(client)
    secret = await enrol(client, who=me)
    next_step()

    wrong_password = await client.request(
        "DELETE",
        TOTP,
        json={"password": "not-the-password", "code": code_now(secret)},
        headers=me.headers,
    )
    assert_problem(wrong_password, 403, "wrong_password")
    wrong_code = await client.request(
        "DELETE", TOTP, json={"password": DEFAULT_PASSWORD, "code": "123456"}, headers=me.headers
    )
    assert_problem(wrong_code, 403, "invalid_totp_code")

    response = await client.request(
        "DELETE",
        TOTP,
        json={"password": DEFAULT_PASSWORD, "code": code_now(secret)},
        headers=me.headers,
    )

    assert response.status_code == 204, response.text
    json_ok(await token(client, me.email))
    assert json_ok(await client.get("/v1/me", headers=me.headers))["totp_enabled"] is False
    stored = await user_row(session, me.email)
    assert (stored.totp_secret, stored.totp_enabled_at, stored.totp_last_step) == (None,) * 3
    assert await unused_recovery_codes(session, me.user_id) == 0
    actions = await session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.target_id == me.user_id)
        .order_by(AuditEntry.created_at)
    )
    assert list(actions) == ["user.totp_enabled", "user.totp_disabled"]
    again = await client.request(
        "DELETE",
        TOTP,
        json={"password": DEFAULT_PASSWORD, "code": code_now(secret)},
        headers=me.headers,
    )
    assert_problem(again, 409, "totp_not_enabled")


async def test_a_recovery_code_can_disable_the_factor(client: httpx.AsyncClient) -> None:
    me = await register_and_login(client)
    secret = await start_enrolment(client, who=me)
    recovery_code, *_ = await confirm(client, who=me, code=code_now(secret))

    response = await client.request(
        "DELETE",
        TOTP,
        json={"password": DEFAULT_PASSWORD, "code": recovery_code},
        headers=me.headers,
    )

    assert response.status_code == 204, response.text


async def test_new_recovery_codes_replace_the_old_ones(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    me = await register_and_login(client)
    secret = await start_enrolment(client, who=me)
    old = await confirm(client, who=me, code=code_now(secret))
    next_step()

    response = await client.post(
        f"{TOTP}/recovery-codes",
        json={"password": DEFAULT_PASSWORD, "code": code_now(secret)},
        headers=me.headers,
    )

    new = json_ok(response)["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    assert await unused_recovery_codes(session, me.user_id) == 10
    assert_problem(await token(client, me.email, code=old[1]), 401, "invalid_totp_code")
    json_ok(await token(client, me.email, code=new[1]))


async def test_enrolment_states(client: httpx.AsyncClient) -> None:
    me = await register_and_login(client)

    nothing_to_confirm = await client.post(
        f"{TOTP}/confirm", json={"code": "123456"}, headers=me.headers
    )
    assert_problem(nothing_to_confirm, 409, "totp_not_enrolling")
    no_factor = await client.post(
        f"{TOTP}/recovery-codes",
        json={"password": DEFAULT_PASSWORD, "code": "123456"},
        headers=me.headers,
    )
    assert_problem(no_factor, 409, "totp_not_enabled")
    wrong_password = await client.post(
        TOTP, json={"password": "not-the-password"}, headers=me.headers
    )
    assert_problem(wrong_password, 403, "wrong_password")

    # Enrolling again before confirming replaces the secret: the first one's codes fail.
    first = await start_enrolment(client, who=me)
    second = await start_enrolment(client, who=me)
    assert first != second
    stale = await client.post(f"{TOTP}/confirm", json={"code": code_now(first)}, headers=me.headers)
    assert_problem(stale, 403, "invalid_totp_code")
    await confirm(client, who=me, code=code_now(second))

    enrolled = await client.post(TOTP, json={"password": DEFAULT_PASSWORD}, headers=me.headers)
    assert_problem(enrolled, 409, "totp_already_enabled")
    confirmed = await client.post(
        f"{TOTP}/confirm", json={"code": code_now(second, steps=1)}, headers=me.headers
    )
    assert_problem(confirmed, 409, "totp_already_enabled")


async def test_wrong_codes_count_towards_the_lockout_but_a_missing_one_does_not(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await register_and_login(client)
    secret = await enrol(client, who=me)
    next_step()

    for _ in range(settings.login_max_failures + 2):
        assert_problem(await token(client, me.email), 401, "totp_required")
    json_ok(await token(client, me.email, code=code_now(secret)))  # resets the count
    next_step()
    for _ in range(settings.login_max_failures):
        assert_problem(await token(client, me.email, code="000000"), 401, "invalid_totp_code")

    locked = await token(client, me.email, code=code_now(secret))

    assert_problem(locked, 429, "too_many_login_attempts")
    clock.advance(settings.login_failure_window)
    json_ok(await token(client, me.email, code=code_now(secret)))


async def test_wrong_codes_to_disable_the_factor_count_towards_the_lockout(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await register_and_login(client)
    secret = await enrol(client, who=me)
    next_step()
    body = {"password": DEFAULT_PASSWORD, "code": "000000"}

    for _ in range(settings.login_max_failures):
        wrong = await client.request("DELETE", TOTP, json=body, headers=me.headers)
        assert_problem(wrong, 403, "invalid_totp_code")

    right = {"password": DEFAULT_PASSWORD, "code": code_now(secret)}
    locked = await client.request("DELETE", TOTP, json=right, headers=me.headers)
    assert_problem(locked, 429, "too_many_login_attempts")
    assert_problem(
        await token(client, me.email, code=code_now(secret)), 429, "too_many_login_attempts"
    )


async def test_deleting_the_account_removes_the_factor_and_exports_hide_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    me = await register_and_login(client)
    await enrol(client, who=me)

    data = (await export(client, who=me))["data"]  # checks the hidden columns are absent
    assert len(data["totp_recovery_codes"]) == 10
    (row,) = data["users"]
    assert row["totp_enabled_at"] is not None

    response = await delete_me(client, who=me)

    assert response.status_code == 204, response.text
    stored = await session.get(User, uuid.UUID(me.user_id), populate_existing=True)
    assert stored is not None
    assert (stored.totp_secret, stored.totp_enabled_at, stored.totp_last_step) == (None,) * 3
    assert await unused_recovery_codes(session, me.user_id) == 0


# --- admins who must have a second factor ----------------------------------------------------


@pytest.fixture
async def strict_client(database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app where admins must have a second factor, as in production."""
    strict = make_settings(settings.database_url, require_admin_totp=True)
    async with client_with(database, strict) as client:
        yield client


async def test_an_admin_without_a_factor_can_only_enrol_then_logs_in_with_a_code(
    strict_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await create_user(session, is_admin=True)
    buyer = await create_user(session)
    me = await login(strict_client, email=admin.email)  # GET /v1/me answers
    listing = f"/v1/listings/{uuid.uuid4()}"

    for path in ("/v1/admin/users", "/v1/orders", listing):
        problem = assert_problem(
            await strict_client.get(path, headers=me.headers), 403, "second_factor_required"
        )
        assert "/v1/me/totp" in str(problem["title"])
    # Others are not concerned.
    other = await login(strict_client, email=buyer.email)
    json_ok(await strict_client.get("/v1/orders", headers=other.headers))
    assert_problem(await strict_client.get(listing), 404, "not_found")

    secret = await enrol(strict_client, who=me)

    json_ok(await strict_client.get("/v1/admin/users", headers=me.headers))
    next_step()
    assert_problem(await token(strict_client, admin.email), 401, "totp_required")
    tokens = json_ok(await token(strict_client, admin.email, code=code_now(secret)))
    fresh = {"Authorization": f"Bearer {tokens['access_token']}"}
    json_ok(await strict_client.get("/v1/admin/users", headers=fresh))
    json_ok(await strict_client.get("/v1/orders", headers=fresh))


async def test_without_the_requirement_admins_need_no_factor(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await create_user(session, is_admin=True)
    me = await login(client, email=admin.email)

    listed = await client.get("/v1/admin/users", headers=me.headers)

    assert listed.status_code == 200, listed.text
    assert json_ok(await client.get("/v1/me", headers=me.headers))["totp_enabled"] is False


# --- races on real commits -------------------------------------------------------------------


@pytest.mark.postgres_only
async def test_concurrent_logins_with_one_code_let_one_in(
    committed_client: httpx.AsyncClient,
) -> None:
    me = await register_and_login(committed_client)
    secret = await start_enrolment(committed_client, who=me)
    recovery_code, *_ = await confirm(committed_client, who=me, code=code_now(secret))
    next_step()

    code = code_now(secret)

    # Five attempts: the lockout lets them all be checked.
    by_code, by_recovery_code = await asyncio.gather(
        asyncio.gather(*(token(committed_client, me.email, code=code) for _ in range(3))),
        asyncio.gather(*(token(committed_client, me.email, code=recovery_code) for _ in range(2))),
    )

    for responses in (by_code, by_recovery_code):
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [401] * (len(responses) - 1), [r.text for r in responses]


async def test_a_changed_encryption_key_refuses_codes_but_recovery_codes_still_work(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    me = await register_and_login(client)
    secret = await start_enrolment(client, who=me)
    recovery = await confirm(client, who=me, code=code_now(secret))
    next_step()
    rotated = make_settings(settings.database_url, totp_encryption_key="another-key-" * 4)

    async with client_with(database, rotated) as other:
        refused = await token(other, me.email, code=code_now(secret))
        assert_problem(refused, 401, "invalid_totp_code")
        assert (await token(other, me.email, code=recovery[0])).status_code == 200


async def test_swagger_sends_the_code_as_basic_client_authentication(
    client: httpx.AsyncClient,
) -> None:
    """Swagger UI's password flow puts `client_secret` in `Authorization: Basic` by default
    (client id empty): the code is taken from there too."""
    me = await register_and_login(client)
    secret = await enrol(client, who=me)
    next_step()
    form = {"username": me.email, "password": DEFAULT_PASSWORD, "grant_type": "password"}

    def basic(client_secret: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f":{client_secret}".encode()).decode()}

    assert_problem(await client.post(TOKEN, data=form, headers=basic("")), 401, "totp_required")
    assert_problem(
        await client.post(TOKEN, data=form, headers=basic("000000")), 401, "invalid_totp_code"
    )
    json_ok(await client.post(TOKEN, data=form, headers=basic(code_now(secret))))
