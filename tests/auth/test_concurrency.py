"""Races on real connections with real commits (PostgreSQL)."""

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.config import Settings
from app.core.db import Database
from tests.factories.accounts import DEFAULT_PASSWORD, register_and_login
from tests.factories.mail import mails_in_outbox

pytestmark = pytest.mark.postgres_only


async def test_concurrent_refresh_with_one_token_rotates_exactly_once(
    committed_client: httpx.AsyncClient,
) -> None:
    me = await register_and_login(committed_client)

    responses = await asyncio.gather(
        *(
            committed_client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
            for _ in range(8)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 7, statuses
    codes = {r.json()["code"] for r in responses if r.status_code == 401}
    assert codes == {"refresh_token_reused"}
    # Reuse revoked the family, so even the one winner's new token is dead.
    winner = next(r for r in responses if r.status_code == 200).json()
    after = await committed_client.post(
        "/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]}
    )
    assert after.status_code == 401


async def test_concurrent_registrations_of_one_email_create_one_account(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    """Every racer gets the same 202 (issue 17: registering tells nobody whether the address
    is taken, not even the losers of a race); one account is made, mailed its link, and each
    loser's attempt is told to the owner, as a registration of a taken address is."""
    body = {"email": "race@example.com", "password": "a-long-test-password", "display_name": "R"}

    responses = await asyncio.gather(
        *(committed_client.post("/v1/auth/register", json=body) for _ in range(6))
    )

    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    async with committed_database.session_scope() as session:
        accounts = await session.scalar(
            select(func.count()).select_from(User).where(User.email == "race@example.com")
        )
        templates = sorted(m.template for m in await mails_in_outbox(session, to=body["email"]))
    assert accounts == 1
    assert templates == ["registration_attempt"] * 5 + ["verify_email"]


async def test_concurrent_wrong_logins_for_one_email_check_at_most_the_limit(
    committed_client: httpx.AsyncClient, settings: Settings
) -> None:
    """Issue 13: the count was read before the check and written after it, so 40 wrong
    passwords sent at once got 7 to 10 of them checked before the 429s began."""
    me = await register_and_login(committed_client)

    responses = await asyncio.gather(
        *(
            committed_client.post(
                "/v1/auth/token", data={"username": me.email, "password": f"guess-{n}"}
            )
            for n in range(40)
        )
    )

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= settings.login_max_failures, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 429} == {
        "too_many_login_attempts"
    }
    # Refused guesses are not failures, so once the checked ones fill the window, it is they
    # that lock the email, for its whole length.
    right = await committed_client.post(
        "/v1/auth/token", data={"username": me.email, "password": DEFAULT_PASSWORD}
    )
    if statuses.count(401) == settings.login_max_failures:
        assert right.status_code == 429, right.text
    else:
        assert right.status_code == 200, right.text


async def test_concurrent_wrong_password_confirmations_check_at_most_the_limit(
    committed_client: httpx.AsyncClient, settings: Settings
) -> None:
    """The confirmations a stolen access token could send (here: an email change) are held
    to the same limit, all at once too."""
    me = await register_and_login(committed_client)

    responses = await asyncio.gather(
        *(
            committed_client.patch(
                "/v1/me",
                json={"email": "elsewhere@example.com", "current_password": f"guess-{n}"},
                headers=me.headers,
            )
            for n in range(40)
        )
    )

    statuses = [r.status_code for r in responses]
    assert statuses.count(403) == settings.login_max_failures, statuses
    assert statuses.count(429) == 40 - settings.login_max_failures, statuses
    unchanged = await committed_client.get("/v1/me", headers=me.headers)
    assert unchanged.json()["email"] == me.email.lower()
