"""Mail and its tokens under concurrency, on real connections with real commits (PostgreSQL):
two workers sending at once send each message once; a mailed token presented by several
requests at once is spent by exactly one."""

import asyncio

import httpx
import pytest

from app.config import Settings
from app.core.db import Database
from app.core.mail.delivery import deliver_due_mail
from app.core.mail.queue import queue
from tests.factories.accounts import register_and_login
from tests.factories.mail import mailed_token, mails_in_outbox, smtp_settings, smtp_sink
from tests.factories.worker import sweep

pytestmark = pytest.mark.postgres_only

MESSAGES = 45


async def test_two_workers_sending_at_once_send_each_message_once(
    committed_database: Database, settings: Settings
) -> None:
    async with committed_database.session_scope() as session:
        for n in range(MESSAGES):
            queue(
                session,
                to=f"reader-{n}@example.com",
                template="notification",
                context={"display_name": "Reader", "title": f"Notice {n}", "body": "Hello."},
                user_id=None,
            )

    with smtp_sink() as sink:
        sending = smtp_settings(settings, sink.url)
        attempted = await asyncio.gather(
            deliver_due_mail(committed_database, sending),
            deliver_due_mail(committed_database, sending),
        )

        assert sum(attempted) == MESSAGES, attempted
        assert all(attempted), attempted  # both took a share (SKIP LOCKED, not a queue)
        ids = [received.message["Message-ID"] for received in sink.received]
        assert len(ids) == MESSAGES
        assert len(set(ids)) == MESSAGES
    async with committed_database.session_scope() as session:
        stored = await mails_in_outbox(session)
    assert {m.status for m in stored} == {"sent"}
    assert all(m.attempts == 1 and m.text_body is None for m in stored)


async def _reset_token(
    client: httpx.AsyncClient, database: Database, settings: Settings, email: str
) -> str:
    asked = await client.post("/v1/auth/password-reset", json={"email": email})
    assert asked.status_code == 202, asked.text
    await sweep(database, settings)
    async with database.session_scope() as session:
        return await mailed_token(session, to=email, template="password_reset")


async def test_one_reset_token_sent_at_once_sets_one_password(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    me = await register_and_login(committed_client)
    token = await _reset_token(committed_client, committed_database, settings, me.email)
    passwords = [f"a brand new pass phrase {n}" for n in range(6)]

    answers = await asyncio.gather(
        *(
            committed_client.post(
                "/v1/auth/password-reset/confirm", json={"token": token, "new_password": p}
            )
            for p in passwords
        )
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [204] + [400] * 5, [a.text for a in answers]
    winner = passwords[[a.status_code for a in answers].index(204)]
    # The winner first: five failed logins lock the account (MARKETPLACE_LOGIN_MAX_FAILURES),
    # which would refuse the winner too when it came last.
    in_order = [winner, *(p for p in passwords if p != winner)]
    logins = [
        await committed_client.post("/v1/auth/token", data={"username": me.email, "password": p})
        for p in in_order
    ]
    assert [p for p, r in zip(in_order, logins, strict=True) if r.status_code == 200] == [winner]


async def test_one_verification_token_sent_at_once_verifies_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    me = await register_and_login(committed_client)
    async with committed_database.session_scope() as session:
        token = await mailed_token(session, to=me.email, template="verify_email")

    answers = await asyncio.gather(
        *(committed_client.post("/v1/auth/verify-email", json={"token": token}) for _ in range(6))
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [400] * 5, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 400} == {"invalid_account_token"}
