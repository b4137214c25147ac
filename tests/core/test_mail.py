"""Outgoing mail (issue 17): templates, the SMTP backend against a real SMTP server, headers,
retries with backoff, the wiping of bodies, and the lease that makes a send interrupted by a
killed worker happen again, once."""

import asyncio
import contextlib
from datetime import timedelta

import httpx
import pytest
from jinja2 import UndefinedError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock, now
from app.core.db import Database
from app.core.mail import delivery
from app.core.mail.delivery import deliver_due_mail, lease
from app.core.mail.models import MailMessage, MailStatus
from app.core.mail.render import render
from tests.factories.accounts import post_register, registration_accepted
from tests.factories.api_keys import create_key
from tests.factories.mail import (
    SmtpSink,
    mails_in_outbox,
    only_mail,
    smtp_settings,
    token_in,
    unreachable_smtp_url,
)
from tests.factories.orders import market, paid_order
from tests.factories.worker import sweep

ADA = "ada@example.com"
VERIFY_SUBJECT = "Confirm your email address"
ORDER_PAID_TITLE = "Order paid: please ship it"
API_KEY_TITLE = "A new API key was created: if it was not you, revoke it"


async def _register(client: httpx.AsyncClient, *, email: str = ADA, name: str = "Ada") -> None:
    registration_accepted(await post_register(client, email=email, display_name=name), email=email)


# --- templates ---------------------------------------------------------------------------


async def test_the_html_part_escapes_what_a_person_typed(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    name = '<script>alert("x")</script> & <b>Ada</b>'
    await _register(client, name=name)

    await sweep(database, smtp_settings(settings, smtp_server.url))

    received = smtp_server.only_one_to(ADA)
    assert "<script>" not in received.html
    assert "<b>Ada</b>" not in received.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Ada&lt;/b&gt;" in (
        received.html
    )
    # Plain text is not markup: it shows the name as typed.
    assert name in received.text
    (queued,) = await mails_in_outbox(session, to=ADA)
    assert queued.status is MailStatus.sent


def test_an_undefined_template_variable_is_an_error_not_an_empty_string() -> None:
    context = {
        "product": "Marketplace",
        "topic": None,
        "display_name": "Ada",
        "email": ADA,
        "link": "https://example.com/verify-email?token=abc",
        "expires_at": "9 Dec 2026, 10:00 UTC",
    }
    assert "abc" in render("verify_email", {**context, "token": "abc"}).text

    with pytest.raises(UndefinedError, match="'token' is undefined"):
        render("verify_email", context)


# --- the SMTP backend --------------------------------------------------------------------


async def test_smtp_delivers_a_text_and_html_mail_with_stable_headers(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    smtp = smtp_settings(settings, smtp_server.url, email_from="Shop Mail <mail@shop.example>")
    await _register(client)
    queued = await only_mail(session, to=ADA, template="verify_email")
    token = token_in(queued.text_body)

    done = await sweep(database, smtp)

    assert done["deliver_mail"] == 1
    received = smtp_server.only_one_to(ADA)
    assert received.mail_from == "mail@shop.example"
    assert received.rcpt_tos == [ADA]
    message = received.message
    assert message["From"] == "Shop Mail <mail@shop.example>"
    assert message["To"] == ADA
    assert message["Subject"] == VERIFY_SUBJECT
    assert message["Message-ID"] == f"<{queued.id}@testserver>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert token_in(received.text) == token_in(received.html) == token
    # Security mail cannot be unsubscribed from.
    assert "List-Unsubscribe" not in message
    assert "List-Unsubscribe-Post" not in message

    (sent,) = await mails_in_outbox(session, to=ADA)
    assert (sent.status, sent.attempts, sent.last_error) == (MailStatus.sent, 1, None)
    assert sent.sent_at is not None
    assert sent.next_attempt_at is None
    assert sent.claim_id is None
    # Sent through SMTP: the token no longer lives in the database.
    assert (sent.text_body, sent.html_body) == (None, None)
    # Nothing is sent twice.
    assert (await sweep(database, smtp))["deliver_mail"] == 0
    assert len(smtp_server.received) == 1


async def test_notification_mail_has_a_one_click_unsubscribe_and_security_mail_has_none(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    m = await market(client, session)
    await paid_order(client, market=m)
    await create_key(client, who=m.seller, scopes=["orders:read"])

    await sweep(database, smtp_settings(settings, smtp_server.url))

    paid = smtp_server.only_one_to(m.seller.email, subject=ORDER_PAID_TITLE)
    link = paid.message["List-Unsubscribe"]
    assert link.startswith("<http://testserver/v1/notifications/unsubscribe?token=")
    assert link.endswith(">")
    assert paid.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    key_notice = smtp_server.only_one_to(m.seller.email, subject=API_KEY_TITLE)
    assert "List-Unsubscribe" not in key_notice.message
    assert "List-Unsubscribe-Post" not in key_notice.message
    queued = await mails_in_outbox(session, to=m.seller.email, template="notification")
    assert sorted((q.subject, q.topic or "") for q in queued) == [
        (API_KEY_TITLE, ""),
        (ORDER_PAID_TITLE, "order.paid"),
    ]


# --- retries, failure and wiping ------------------------------------------------------------


async def test_a_refusing_server_is_retried_with_backoff_then_the_mail_fails(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    clock.freeze()
    smtp = smtp_settings(
        settings,
        smtp_server.url,
        email_retry_base=timedelta(minutes=1),
        email_max_attempts=3,
    )
    smtp_server.handler.refuse_with = "554 5.7.1 not today"
    await _register(client)

    await deliver_due_mail(database, smtp)

    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.pending, 1, "smtp_554")
    assert mail.next_attempt_at == now() + timedelta(minutes=1)
    assert mail.text_body is not None  # kept for the next attempt
    # Not before its time.
    clock.advance(timedelta(seconds=59))
    assert await deliver_due_mail(database, smtp) == 0

    clock.advance(timedelta(seconds=1))
    assert await deliver_due_mail(database, smtp) == 1
    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts) == (MailStatus.pending, 2)
    assert mail.next_attempt_at == now() + timedelta(minutes=2)  # base * 2^(2-1)

    clock.advance(timedelta(minutes=2))
    assert await deliver_due_mail(database, smtp) == 1
    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.failed, 3, "smtp_554")
    assert mail.next_attempt_at is None
    assert (mail.text_body, mail.html_body) == (None, None)
    assert smtp_server.handler.data_commands == 3
    assert smtp_server.received == []
    # Failed for good: never tried again.
    clock.advance(timedelta(days=1))
    assert await deliver_due_mail(database, smtp) == 0


async def test_an_unreachable_server_is_a_connection_failure_retried_later(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    clock.freeze()
    smtp = smtp_settings(settings, unreachable_smtp_url(), email_retry_base=timedelta(minutes=5))
    await _register(client)

    assert await deliver_due_mail(database, smtp) == 1

    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts, mail.last_error) == (
        MailStatus.pending,
        1,
        "connection_failed",
    )
    assert mail.next_attempt_at == now() + timedelta(minutes=5)
    assert mail.sent_at is None


async def test_the_console_backend_keeps_the_bodies_it_has_sent(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    assert settings.email_backend is None  # the console backend, outside production

    await _register(client)
    await sweep(database, settings)

    (mail,) = await mails_in_outbox(session, to=ADA)
    assert mail.status is MailStatus.sent
    assert mail.text_body is not None
    assert mail.html_body is not None
    assert token_in(mail.text_body)


# --- a worker killed mid-send -----------------------------------------------------------------


async def test_a_worker_killed_mid_send_leaves_the_mail_to_arrive_once_after_its_lease(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    """The first worker claims the mail and is killed while the server has not yet answered
    its DATA (so the server never accepted the message). Until the claim's lease runs out no
    other sweep touches it; then the restarted worker sends it, and it arrives exactly once."""
    clock.freeze()
    smtp = smtp_settings(settings, smtp_server.url, email_timeout=timedelta(seconds=2))
    await _register(client)
    smtp_server.handler.stall_next = 1

    first_worker = asyncio.create_task(deliver_due_mail(database, smtp))
    await smtp_server.wait_until_stalled()
    first_worker.cancel()  # killed mid-send: the outcome is never recorded
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(first_worker, timeout=30)
    assert first_worker.cancelled()

    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts) == (MailStatus.pending, 0)
    assert mail.claim_id is not None
    assert mail.next_attempt_at == now() + lease(smtp, 1)
    assert smtp_server.received == []

    # While the lease holds, a restarted worker leaves the mail alone.
    clock.advance(lease(smtp, 1) - timedelta(seconds=1))
    assert (await sweep(database, smtp))["deliver_mail"] == 0

    clock.advance(timedelta(seconds=1))
    assert (await sweep(database, smtp))["deliver_mail"] == 1
    assert (await sweep(database, smtp))["deliver_mail"] == 0

    (received,) = smtp_server.received
    assert received.message["Message-ID"] == f"<{mail.id}@testserver>"
    assert received.message["Subject"] == VERIFY_SUBJECT
    assert smtp_server.handler.data_commands == 2  # the stalled one, then the delivery
    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts, mail.claim_id) == (MailStatus.sent, 1, None)


async def test_a_server_that_hangs_times_out_and_the_retry_arrives_once(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    clock.freeze()
    smtp = smtp_settings(
        settings,
        smtp_server.url,
        email_timeout=timedelta(seconds=1),
        email_retry_base=timedelta(minutes=1),
    )
    await _register(client)
    smtp_server.handler.stall_next = 1

    assert await deliver_due_mail(database, smtp) == 1

    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.pending, 1, "timeout")
    assert smtp_server.received == []
    clock.advance(timedelta(minutes=1))
    assert await deliver_due_mail(database, smtp) == 1
    assert len(smtp_server.to(ADA)) == 1
    (mail,) = await mails_in_outbox(session, to=ADA)
    assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.sent, 2, None)


async def test_a_batch_that_outruns_its_lease_stops_rather_than_send_twice(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    smtp_server: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each attempt here takes one and a half times the longest an attempt may take (the
    clock is moved, nothing waits): by the third message the lease would end mid-send, when
    another worker may already have claimed it again. The worker stops there; the message
    goes once its lease runs out."""
    clock.freeze()
    smtp = smtp_settings(settings, smtp_server.url)
    for n in range(3):
        await _register(client, email=f"slow-{n}@example.com")
    send = delivery.attempt

    async def slow_attempt(settings: Settings, message: MailMessage) -> str | None:
        clock.advance(delivery.longest_attempt(settings) * 3 / 2)
        return await send(settings, message)

    monkeypatch.setattr(delivery, "attempt", slow_attempt)

    assert await deliver_due_mail(database, smtp) == 2
    assert len(smtp_server.received) == 2
    waiting = [m for m in await mails_in_outbox(session) if m.status is MailStatus.pending]
    assert len(waiting) == 1
    assert waiting[0].claim_id is not None  # still leased: nobody takes it yet
    assert await deliver_due_mail(database, smtp) == 0

    clock.advance(lease(smtp, 3))
    assert await deliver_due_mail(database, smtp) == 1
    assert len(smtp_server.received) == 3
    assert len({r.message["Message-ID"] for r in smtp_server.received}) == 3
