"""Password reset by mail (issue 17): the request tells nobody whether an account exists, the
worker mails a single-use, short-lived token (a few per address per hour at most), and
confirming it sets the password, ends every session and tells the owner."""

from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import DEFAULT_PASSWORD, ME, login, register_and_login
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.mail import (
    SmtpSink,
    mailed_token,
    mails_in_outbox,
    smtp_settings,
    token_in,
)
from tests.factories.worker import sweep

RESET = "/v1/auth/password-reset"
CONFIRM = "/v1/auth/password-reset/confirm"
TOKEN = "/v1/auth/token"
REFRESH = "/v1/auth/refresh"
ADA = "ada@example.com"
NEW_PASSWORD = "brand-new-passphrase-71"


async def _ask(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(RESET, json={"email": email})


async def _confirm(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.post(CONFIRM, json={"token": token, "new_password": password})


async def _login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post(TOKEN, data={"username": email, "password": password})
    return response.status_code


def _accepted(response: httpx.Response) -> Json:
    body: Json = json_ok(response, 202)
    assert set(body) == {"status", "detail"}
    assert body["status"] == "reset_requested"
    return body


async def _reset_token(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> str:
    _accepted(await _ask(client, ADA))
    await sweep(database, settings)
    return await mailed_token(session, to=ADA, template="password_reset")


async def test_known_and_unknown_addresses_get_the_same_answer_and_only_one_gets_mail(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    await register_and_login(client, email=ADA, display_name="Ada")
    stranger = "nobody@example.com"

    known = await _ask(client, ADA.upper())
    unknown = await _ask(client, stranger)

    assert known.status_code == unknown.status_code == 202
    assert _accepted(known) == _accepted(unknown)
    assert known.content == unknown.content
    # Asking writes nothing that reaches anyone yet: the worker looks the address up.
    assert await mails_in_outbox(session, template="password_reset") == []

    await sweep(database, smtp_settings(settings, smtp_server.url))

    mail = smtp_server.only_one_to(ADA, subject="Reset your password")
    assert f"http://testserver/reset-password?token={token_in(mail.text)}" in mail.text
    assert smtp_server.to(stranger) == []
    assert [m.to_address for m in await mails_in_outbox(session, template="password_reset")] == [
        ADA
    ]


async def test_the_token_sets_a_new_password_and_ends_every_session(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    ada = await register_and_login(client, email=ADA, display_name="Ada")
    other_device = await login(client, email=ADA)
    smtp = smtp_settings(settings, smtp_server.url)
    _accepted(await _ask(client, ADA))
    await sweep(database, smtp)
    token = token_in(smtp_server.only_one_to(ADA, subject="Reset your password").text)

    confirmed = await _confirm(client, token, NEW_PASSWORD)

    assert confirmed.status_code == 204, confirmed.text
    assert confirmed.content == b""
    assert await _login_status(client, ADA, DEFAULT_PASSWORD) == 401
    for device in (ada, other_device):
        assert_problem(await client.get(ME, headers=device.headers), 401, "invalid_token")
        refreshed = await client.post(REFRESH, json={"refresh_token": device.refresh_token})
        assert refreshed.status_code == 401, refreshed.text
    fresh = await login(client, email=ADA, password=NEW_PASSWORD)
    # Following the link proved the address.
    assert json_ok(await client.get(ME, headers=fresh.headers))["email_verified"] is True
    # Single use.
    assert_problem(
        await _confirm(client, token, "yet-another-passphrase-3"), 400, ("invalid_account_token")
    )
    assert await _login_status(client, ADA, NEW_PASSWORD) == 200

    await sweep(database, smtp)
    changed = smtp_server.only_one_to(ADA, subject="Your password was changed")
    assert "with a password-reset link" in changed.text
    assert "List-Unsubscribe" not in changed.message


async def test_an_expired_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    await register_and_login(client, email=ADA)
    token = await _reset_token(client, session, database, settings)

    assert settings.password_reset_ttl == timedelta(minutes=30)
    clock.advance(timedelta(minutes=30, seconds=1))

    assert_problem(await _confirm(client, token, NEW_PASSWORD), 400, "invalid_account_token")
    assert await _login_status(client, ADA, DEFAULT_PASSWORD) == 200
    assert await _login_status(client, ADA, NEW_PASSWORD) == 401


@pytest.mark.parametrize(
    ("password", "why"),
    [
        pytest.param("aaaaaaaaaaaa", "Repeats", id="guessable"),
        pytest.param("short", "at least 10 characters", id="too-short"),
        pytest.param(ADA, "email", id="the-email"),
    ],
)
async def test_a_refused_password_does_not_spend_the_token(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    password: str,
    why: str,
) -> None:
    ada = await register_and_login(client, email=ADA)
    token = await _reset_token(client, session, database, settings)

    refused = await _confirm(client, token, password)

    problem = assert_problem(refused, 422, "validation_error")
    assert why in str(problem["errors"])
    # Nothing changed: the old password and session still work...
    assert await _login_status(client, ADA, DEFAULT_PASSWORD) == 200
    assert (await client.get(ME, headers=ada.headers)).status_code == 200
    # ...and the token still sets a good password.
    assert (await _confirm(client, token, NEW_PASSWORD)).status_code == 204
    assert await _login_status(client, ADA, NEW_PASSWORD) == 200


async def test_a_newer_reset_mail_retires_the_earlier_token(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    await register_and_login(client, email=ADA)
    first = await _reset_token(client, session, database, settings)
    second = await _reset_token(client, session, database, settings)

    assert second != first
    assert_problem(await _confirm(client, first, NEW_PASSWORD), 400, "invalid_account_token")
    assert (await _confirm(client, second, NEW_PASSWORD)).status_code == 204


async def test_an_address_gets_at_most_three_reset_mails_an_hour(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    await register_and_login(client, email=ADA)
    smtp = smtp_settings(settings, smtp_server.url)
    assert settings.password_reset_mails_per_hour == 3

    for _ in range(5):
        _accepted(await _ask(client, ADA))
    done = await sweep(database, smtp)

    assert done["answer_password_resets"] == 5
    assert len(smtp_server.to(ADA)) == 3 + 1  # the three resets, and the registration's link
    assert len(await mails_in_outbox(session, to=ADA, template="password_reset")) == 3
    # The next hour, another.
    clock.advance(timedelta(hours=1, seconds=1))
    _accepted(await _ask(client, ADA))
    await sweep(database, smtp)
    assert len(await mails_in_outbox(session, to=ADA, template="password_reset")) == 4


async def test_a_new_password_set_while_signed_in_is_announced_too(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    ada = await register_and_login(client, email=ADA)

    changed = await client.patch(
        ME,
        json={"new_password": NEW_PASSWORD, "current_password": DEFAULT_PASSWORD},
        headers=ada.headers,
    )

    assert changed.status_code == 200, changed.text
    (notice,) = await mails_in_outbox(session, to=ADA, template="password_changed")
    assert notice.text_body is not None
    assert "from a signed-in session" in notice.text_body


async def test_the_hourly_cap_outlives_the_expired_tokens(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """The reset tokens expire after 30 minutes and the worker purges them then; the cap is
    counted from the mail sent, so half an hour later the address still gets no more."""
    await register_and_login(client, email=ADA)
    for _ in range(3):
        _accepted(await _ask(client, ADA))
    await sweep(database, settings)
    clock.advance(settings.password_reset_ttl + timedelta(minutes=1))
    await sweep(database, settings)  # purges the expired tokens

    _accepted(await _ask(client, ADA))
    await sweep(database, settings)

    assert len(await mails_in_outbox(session, to=ADA, template="password_reset")) == 3


async def test_a_reset_by_the_owner_of_an_unproven_account_removes_what_its_opener_set_up(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """Someone opened an account with another person's address (it stays unverified) and
    enrolled a second factor and an API key. When the address's owner resets the password,
    the factor and the keys go with the opener's sessions: the owner can log in."""
    opener = await register_and_login(client, email=ADA)
    secret = json_ok(
        await client.post(
            "/v1/me/totp", json={"password": DEFAULT_PASSWORD}, headers=opener.headers
        ),
        201,
    )["secret"]
    confirmed = await client.post(
        "/v1/me/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=opener.headers
    )
    json_ok(confirmed)

    token = await _reset_token(client, session, database, settings)
    assert (await _confirm(client, token, NEW_PASSWORD)).status_code == 204

    owner = await login(client, email=ADA, password=NEW_PASSWORD)  # no code needed any more
    me = json_ok(await client.get(ME, headers=owner.headers))
    assert (me["email_verified"], me["totp_enabled"]) == (True, False)


async def test_a_reset_of_a_verified_account_keeps_its_second_factor(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """A proven owner who forgot the password keeps their factor: the reset is no way
    around it."""
    me = await register_and_login(client, email=ADA)
    verify = await mailed_token(session, to=ADA, template="verify_email")
    json_ok(await client.post("/v1/auth/verify-email", json={"token": verify}))
    secret = json_ok(
        await client.post("/v1/me/totp", json={"password": DEFAULT_PASSWORD}, headers=me.headers),
        201,
    )["secret"]
    json_ok(
        await client.post(
            "/v1/me/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=me.headers
        )
    )

    token = await _reset_token(client, session, database, settings)
    assert (await _confirm(client, token, NEW_PASSWORD)).status_code == 204

    refused = await client.post(TOKEN, data={"username": ADA, "password": NEW_PASSWORD})
    assert_problem(refused, 401, "totp_required")
