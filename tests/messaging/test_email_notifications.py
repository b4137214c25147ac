"""Notifications by email (issue 17): which kinds are mailed, once per event and person,
the preferences that turn kinds off, and the one-click unsubscribe link of RFC 8058."""

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.db import Database
from app.core.mail.unsubscribe import unsubscribe_token
from tests.factories.accounts import LoggedIn, register_and_login
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.mail import SmtpSink, mails_in_outbox, smtp_settings
from tests.factories.orders import market, paid_order
from tests.factories.privacy import deleted
from tests.factories.worker import sweep

PREFERENCES = "/v1/notifications/preferences"
UNSUBSCRIBE = "/v1/notifications/unsubscribe"
ORDER_PAID_TITLE = "Order paid: please ship it"
ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


async def _preferences(client: httpx.AsyncClient, who: LoggedIn) -> dict[str, Json]:
    body = json_ok(await client.get(PREFERENCES, headers=who.headers))
    return {kind["type"]: kind for kind in body["email"]}


async def _patch(client: httpx.AsyncClient, who: LoggedIn, email: Json) -> httpx.Response:
    return await client.patch(PREFERENCES, json={"email": email}, headers=who.headers)


async def _paid_mail_to(session: AsyncSession, who: LoggedIn) -> list[str]:
    """The `order.paid` mail queued for `who`: their subjects."""
    queued = await mails_in_outbox(session, to=who.email, template="notification")
    return [m.subject for m in queued if m.topic == "order.paid"]


async def test_a_paid_order_mails_its_seller_once_however_often_the_worker_runs(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    m = await market(client, session)
    smtp = smtp_settings(settings, smtp_server.url)

    _listing, order = await paid_order(client, market=m, price=1250, shipping=250)
    for _ in range(3):
        await sweep(database, smtp)

    (mail,) = [
        r for r in smtp_server.to(m.seller.email) if r.message["Subject"] == ORDER_PAID_TITLE
    ]
    assert "Hello Seller" in mail.text
    assert "15.00" in mail.text  # the order's total, 1,250 + 250 cents
    assert mail.message["List-Unsubscribe"]
    # The buyer is not told of their own payment by mail.
    assert [r.message["Subject"] for r in smtp_server.to(m.buyer.email)] == [
        "Confirm your email address"
    ]
    (queued,) = await mails_in_outbox(session, to=m.seller.email, template="notification")
    assert queued.dedup_key is not None
    assert queued.dedup_key.endswith(f":{m.seller.user_id}")
    assert order["status"] == "paid"


async def test_a_kind_turned_off_is_no_longer_mailed_but_still_notified(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    await paid_order(client, market=m)
    assert await _paid_mail_to(session, m.seller) == [ORDER_PAID_TITLE]
    before = await _preferences(client, m.seller)
    assert before["order.paid"]["enabled"] is True
    assert before["order.paid"]["can_turn_off"] is True

    body = json_ok(await _patch(client, m.seller, {"order.paid": False}))

    assert {k["type"]: k["enabled"] for k in body["email"]}["order.paid"] is False
    assert (await _preferences(client, m.seller))["order.paid"]["enabled"] is False
    # Others keep their setting.
    assert (await _preferences(client, m.seller))["order.shipped"]["enabled"] is True
    await paid_order(client, market=m)
    assert await _paid_mail_to(session, m.seller) == [ORDER_PAID_TITLE]
    notifications = json_ok(
        await client.get("/v1/notifications", params={"limit": 100}, headers=m.seller.headers)
    )["items"]
    assert sum(n["type"] == "order.paid" for n in notifications) == 2

    # And back on.
    json_ok(await _patch(client, m.seller, {"order.paid": True}))
    await paid_order(client, market=m)
    assert await _paid_mail_to(session, m.seller) == [ORDER_PAID_TITLE] * 2


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("api_key.created", id="security-notice"),
        pytest.param("message.created", id="never-mailed"),
        pytest.param("no.such_kind", id="unknown"),
    ],
)
async def test_a_kind_that_cannot_be_turned_off_is_422(
    client: httpx.AsyncClient, session: AsyncSession, kind: str
) -> None:
    m = await market(client, session)

    refused = await _patch(client, m.seller, {kind: False, "order.paid": False})

    problem = assert_problem(refused, 422, "validation_error")
    errors = problem["errors"]
    assert isinstance(errors, list)
    # The refused key itself is named (pydantic adds "[key]": the key, not its value).
    assert ["body", "email", kind, "[key]"] in [error["loc"] for error in errors]
    preferences = await _preferences(client, m.seller)
    assert preferences["order.paid"]["enabled"] is True  # nothing of the request applied
    assert preferences["api_key.created"] == {
        "type": "api_key.created",
        "title": "A new API key was created: if it was not you, revoke it",
        "enabled": True,
        "can_turn_off": False,
    }


async def test_the_mails_one_click_link_unsubscribes_without_a_login(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    m = await market(client, session)
    await paid_order(client, market=m)
    await sweep(database, smtp_settings(settings, smtp_server.url))
    (mail,) = [
        r for r in smtp_server.to(m.seller.email) if r.message["Subject"] == ORDER_PAID_TITLE
    ]
    link = urlsplit(mail.message["List-Unsubscribe"].strip("<>"))
    assert (link.scheme, link.netloc, link.path) == ("http", "testserver", UNSUBSCRIBE)
    (token,) = parse_qs(link.query)["token"]

    # What a mail program sends (RFC 8058): a POST to the link, no cookie, no login.
    answer = await client.post(
        f"{link.path}?{link.query}", content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK
    )

    assert json_ok(answer) == {"type": "order.paid", "enabled": False}
    assert (await _preferences(client, m.seller))["order.paid"]["enabled"] is False
    await paid_order(client, market=m)
    assert await _paid_mail_to(session, m.seller) == [ORDER_PAID_TITLE]
    # Clicking twice is harmless.
    again = await client.post(UNSUBSCRIBE, params={"token": token}, content=b"", headers=ONE_CLICK)
    assert json_ok(again) == {"type": "order.paid", "enabled": False}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("x" * 40, id="garbage"),
        pytest.param(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWZvcmdlZA",
            id="forged-jwt",
        ),
    ],
)
async def test_a_forged_unsubscribe_link_is_400(
    client: httpx.AsyncClient, session: AsyncSession, token: str
) -> None:
    m = await market(client, session)

    refused = await client.post(
        UNSUBSCRIBE,
        params={"token": token},
        content=b"List-Unsubscribe=One-Click",
        headers=ONE_CLICK,
    )

    assert_problem(refused, 400, "invalid_unsubscribe_link")
    assert (await _preferences(client, m.seller))["order.paid"]["enabled"] is True


async def test_an_access_token_is_no_unsubscribe_link(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Another signed token of the API (same secret, other type) is refused."""
    m = await market(client, session)

    refused = await client.post(
        UNSUBSCRIBE, params={"token": m.seller.access_token}, headers=ONE_CLICK
    )

    assert_problem(refused, 400, "invalid_unsubscribe_link")


async def test_the_link_of_a_deleted_account_is_400(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A link mailed before the account was deleted names nobody any more."""
    buyer = await register_and_login(client)
    link = unsubscribe_token(settings, uuid.UUID(buyer.user_id), "order.shipped")
    await deleted(client, who=buyer)

    refused = await client.post(UNSUBSCRIBE, params={"token": link}, headers=ONE_CLICK)

    assert_problem(refused, 400, "invalid_unsubscribe_link")
