"""Proving an address (issue 17): the link mailed on registration and on a change of address,
what registering a taken address answers, resending, and what an unverified account may not
do where verification is required."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import (
    DEFAULT_PASSWORD,
    ME,
    LoggedIn,
    login,
    me,
    post_register,
    register_and_login,
    registration_accepted,
)
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.api_keys import post_key
from tests.factories.apps import client_with, make_settings
from tests.factories.catalog import listing_for_sale
from tests.factories.mail import (
    SmtpSink,
    mailed_token,
    mails_in_outbox,
    only_mail,
    smtp_settings,
    token_in,
)
from tests.factories.orders import checkout, market, post_pay
from tests.factories.sellers import apply, apply_ok, approve
from tests.factories.worker import sweep

VERIFY = "/v1/auth/verify-email"
RESEND = "/v1/auth/verify-email/resend"
TOKEN = "/v1/auth/token"
ADA = "ada@example.com"
NEW_ADDRESS = "countess@example.com"
OTHER_PASSWORD = "another-long-passphrase-9"


async def _verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(VERIFY, json={"token": token})


async def _login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post(TOKEN, data={"username": email, "password": password})
    return response.status_code


async def _accounts_with(session: AsyncSession, email: str) -> int:
    count = await session.scalar(select(func.count()).select_from(User).where(User.email == email))
    return int(count or 0)


async def test_the_mailed_link_verifies_the_address(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    ada = await register_and_login(client, email=ADA, display_name="Ada")
    before = await me(client, who=ada)
    assert (before["email_verified"], before["pending_email"]) == (False, None)

    await sweep(database, smtp_settings(settings, smtp_server.url))

    mail = smtp_server.only_one_to(ADA)
    assert mail.message["Subject"] == "Confirm your email address"
    token = token_in(mail.text)
    assert f"http://testserver/verify-email?token={token}" in mail.text
    verified = json_ok(await _verify(client, token))
    assert (verified["id"], verified["email"], verified["email_verified"]) == (
        ada.user_id,
        ADA,
        True,
    )
    after = await me(client, who=ada)
    assert (after["email_verified"], after["pending_email"]) == (True, None)

    # Single use.
    assert_problem(await _verify(client, token), 400, "invalid_account_token")


async def test_an_expired_or_unknown_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    ada = await register_and_login(client, email=ADA)
    token = await mailed_token(session, to=ADA, template="verify_email")

    assert settings.email_verification_ttl == timedelta(days=2)
    clock.advance(settings.email_verification_ttl + timedelta(seconds=1))

    assert_problem(await _verify(client, token), 400, "invalid_account_token")
    assert_problem(await _verify(client, "x" * 43), 400, "invalid_account_token")
    ada = await login(client, email=ADA)
    assert (await me(client, who=ada))["email_verified"] is False


async def test_a_token_works_until_just_before_it_expires(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await register_and_login(client, email=ADA)
    token = await mailed_token(session, to=ADA, template="verify_email")

    clock.advance(settings.email_verification_ttl - timedelta(minutes=1))

    assert json_ok(await _verify(client, token))["email_verified"] is True


async def test_registering_a_taken_address_answers_as_a_new_one_and_tells_its_owner(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    taken = "grace@example.com"
    first = await post_register(client, email=taken, display_name="Grace")
    fresh = await post_register(client, email="nobody-yet@example.com", display_name="Eve")

    again = await post_register(
        client, email="Grace@Example.COM", password=OTHER_PASSWORD, display_name="Eve"
    )

    # The same status, headers of substance and body as a free address.
    for response, email in ((first, taken), (fresh, "nobody-yet@example.com"), (again, taken)):
        registration_accepted(response, email=email)
    assert again.json() == first.json()
    assert {**fresh.json(), "email": taken} == again.json()
    assert again.headers["content-type"] == fresh.headers["content-type"]
    # No second account, and the owner's password is still the one that logs in.
    assert await _accounts_with(session, taken) == 1
    assert await _login_status(client, taken, OTHER_PASSWORD) == 401
    assert await _login_status(client, taken, DEFAULT_PASSWORD) == 200

    await sweep(database, smtp_settings(settings, smtp_server.url))

    to_owner = smtp_server.to(taken)
    assert [r.message["Subject"] for r in to_owner] == [
        "Confirm your email address",
        "Someone tried to register with your email address",
    ]
    attempt = to_owner[1]
    assert "Hello Grace" in attempt.text
    assert "token=" not in attempt.text  # nothing in it opens the account
    assert len(await mails_in_outbox(session, to=taken, template="verify_email")) == 1


async def test_changing_the_address_waits_for_the_new_one_to_be_verified(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    ada = await register_and_login(client, email=ADA, display_name="Ada")

    changed = await client.patch(
        ME,
        json={"email": NEW_ADDRESS.upper(), "current_password": DEFAULT_PASSWORD},
        headers=ada.headers,
    )

    body = json_ok(changed)
    assert (body["email"], body["pending_email"]) == (ADA, NEW_ADDRESS)
    assert (await me(client, who=ada))["pending_email"] == NEW_ADDRESS
    # Until the new address is proven, the login is the old one.
    assert await _login_status(client, ADA, DEFAULT_PASSWORD) == 200
    assert await _login_status(client, NEW_ADDRESS, DEFAULT_PASSWORD) == 401

    await sweep(database, smtp_settings(settings, smtp_server.url))

    notice = smtp_server.only_one_to(ADA, subject="Your account's email address is being changed")
    assert NEW_ADDRESS in notice.text
    assert "token=" not in notice.text
    link = smtp_server.only_one_to(NEW_ADDRESS)
    assert link.message["Subject"] == "Confirm your email address"
    verified = json_ok(await _verify(client, token_in(link.text)))
    assert (verified["email"], verified["pending_email"], verified["email_verified"]) == (
        NEW_ADDRESS,
        None,
        True,
    )
    assert await _login_status(client, NEW_ADDRESS, DEFAULT_PASSWORD) == 200
    assert await _login_status(client, ADA, DEFAULT_PASSWORD) == 401


async def test_verifying_an_address_taken_meanwhile_is_409_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    ada = await register_and_login(client, email=ADA)
    json_ok(
        await client.patch(
            ME,
            json={"email": NEW_ADDRESS, "current_password": DEFAULT_PASSWORD},
            headers=ada.headers,
        )
    )
    token = await mailed_token(session, to=NEW_ADDRESS, template="verify_email")
    # Someone else opens an account with the address before Ada follows her link.
    await register_and_login(client, email=NEW_ADDRESS, password=OTHER_PASSWORD)

    assert_problem(await _verify(client, token), 409, "email_taken")

    mine = await me(client, who=ada)
    assert (mine["email"], mine["pending_email"]) == (ADA, NEW_ADDRESS)
    assert await _login_status(client, ADA, DEFAULT_PASSWORD) == 200
    assert await _login_status(client, NEW_ADDRESS, OTHER_PASSWORD) == 200
    assert await _accounts_with(session, NEW_ADDRESS) == 1


async def test_a_resent_link_replaces_the_earlier_one(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    ada = await register_and_login(client, email=ADA)
    first = await mailed_token(session, to=ADA, template="verify_email")

    resent = await client.post(RESEND, headers=ada.headers)

    registration_accepted(resent, email=ADA)
    second = await mailed_token(session, to=ADA, template="verify_email")
    assert second != first
    assert len(await mails_in_outbox(session, to=ADA, template="verify_email")) == 2
    assert_problem(await _verify(client, first), 400, "invalid_account_token")
    assert json_ok(await _verify(client, second))["email_verified"] is True
    assert_problem(await client.post(RESEND, headers=ada.headers), 409, "email_already_verified")


async def test_resending_needs_a_login(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(RESEND), 401, "invalid_token")


# --- where verification is required -----------------------------------------------------------


async def _verified(client: httpx.AsyncClient, session: AsyncSession, who: LoggedIn) -> None:
    token = await mailed_token(session, to=who.email, template="verify_email")
    assert json_ok(await _verify(client, token))["email_verified"] is True


async def test_an_unverified_account_cannot_pay_sell_or_make_api_keys_where_required(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)  # made where verification is not required
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    newcomer = await register_and_login(client)
    strict = make_settings(settings.database_url, require_verified_email=True)

    async with client_with(database, strict) as required:
        # Browsing, the cart and checking out are open to an unverified account...
        created: Json = await checkout(
            required, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
        )
        assert (await required.get(ME, headers=m.buyer.headers)).status_code == 200
        # ...paying, applying to sell and creating API keys are not.
        refused = [
            await post_pay(required, who=m.buyer, checkout_id=created["id"]),
            await apply(required, who=newcomer),
            await post_key(
                required, who=m.seller, body={"name": "sync", "scopes": ["orders:read"]}
            ),
        ]
        for response in refused:
            problem = assert_problem(response, 403, "email_not_verified")
            assert "/v1/auth/verify-email/resend" in str(problem["detail"])

        for who in (m.buyer, newcomer, m.seller):
            await _verified(required, session, who)

        paid = json_ok(await post_pay(required, who=m.buyer, checkout_id=created["id"]))
        assert paid["status"] == "paid"
        shop = await apply_ok(required, who=newcomer)
        assert (await approve(required, admin=m.admin, seller_id=shop["id"]))["status"] == (
            "approved"
        )
        key = await post_key(
            required, who=m.seller, body={"name": "sync", "scopes": ["orders:read"]}
        )
        assert key.status_code == 201, key.text


@pytest.mark.parametrize("required", [None, False])
async def test_outside_production_verification_is_not_required_by_default(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    required: bool | None,
) -> None:
    lenient = make_settings(settings.database_url, require_verified_email=required)
    assert lenient.verified_email_required is False
    newcomer = await register_and_login(client)

    async with client_with(database, lenient) as app_client:
        assert (await apply(app_client, who=newcomer)).status_code == 201
    mail = await only_mail(session, to=newcomer.email, template="verify_email")
    assert mail.user_id is not None


async def test_registering_a_taken_address_often_notes_it_to_its_owner_a_few_times_an_hour(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """Many clients registering one taken address cannot flood its owner's inbox."""
    owner = await register_and_login(client, email=ADA)

    for _ in range(settings.registration_notices_per_hour + 2):
        registration_accepted(await post_register(client, email=owner.email), email=ADA)

    notes = await mails_in_outbox(session, to=ADA, template="registration_attempt")
    assert len(notes) == settings.registration_notices_per_hour
    clock.advance(timedelta(hours=1))
    registration_accepted(await post_register(client, email=owner.email), email=ADA)
    notes = await mails_in_outbox(session, to=ADA, template="registration_attempt")
    assert len(notes) == settings.registration_notices_per_hour + 1
