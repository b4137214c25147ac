"""The worker's sweep: purges what has expired, and one failing job does not stop the rest;
webhooks are sent beside the sweep, not within it."""

import asyncio
import contextlib
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import AccountToken, AuthSession, LoginFailure, RefreshToken
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.payments.provider import SandboxProvider
from app.worker import runner
from tests.factories.accounts import register_and_login
from tests.factories.orders import market, unpaid_order
from tests.factories.webhooks import create_endpoint, list_deliveries
from tests.integration.harness import WebhookReceiver


async def _count(
    database: Database,
    model: type[RefreshToken] | type[LoginFailure] | type[AuthSession] | type[AccountToken],
) -> int:
    async with database.session_scope() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_sweep_purges_expired_sessions_and_old_login_failures(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    me = await register_and_login(client)
    await client.post("/v1/auth/token", data={"username": me.email, "password": "wrong-password"})
    assert await _count(database, RefreshToken) == 1
    assert await _count(database, LoginFailure) == 1
    assert await _count(database, AccountToken) == 1

    first = await runner.run_once(runner.WorkerContext(database, settings, SandboxProvider()))
    assert first["purge_expired_sessions"] == 0
    assert await _count(database, RefreshToken) == 1

    clock.advance(settings.refresh_token_ttl + timedelta(seconds=1))
    second = await runner.run_once(runner.WorkerContext(database, settings, SandboxProvider()))

    # The refresh token, the session it belonged to, the login failure, and the
    # registration's email-verification token (expired after two days, issue 17).
    assert second["purge_expired_sessions"] == 4
    assert await _count(database, RefreshToken) == 0
    assert await _count(database, AuthSession) == 0
    assert await _count(database, LoginFailure) == 0
    assert await _count(database, AccountToken) == 0


async def test_a_failing_job_is_reported_and_the_others_still_run(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    async def broken(_context: runner.WorkerContext) -> int:
        raise RuntimeError("boom")

    async def healthy(_context: runner.WorkerContext) -> int:
        ran.append("healthy")
        return 3

    monkeypatch.setattr(runner, "JOBS", {"broken": broken, "healthy": healthy})

    done = await runner.run_once(runner.WorkerContext(database, settings, SandboxProvider()))

    assert done == {"broken": -1, "healthy": 3}
    assert ran == ["healthy"]


async def test_webhooks_are_delivered_beside_a_slow_sweep_not_after_it(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run_forever` sends webhooks in a loop of their own: a sweep job taking 5 s does not
    hold up a due delivery. Real time (short), since this is about the loop's scheduling.
    The sweep keeps only the slow job, and the sender parks once it has delivered, so that
    nothing else uses the test's one connection while the task runs or is cancelled."""
    sweep_started = asyncio.Event()
    sweep_finished = asyncio.Event()
    delivered = asyncio.Event()
    deliver = runner.JOBS[runner.DELIVER_WEBHOOKS]

    async def slow_sweep_job(_context: runner.WorkerContext) -> int:
        sweep_started.set()
        await asyncio.sleep(5)
        sweep_finished.set()
        return 0

    async def deliver_then_park(context: runner.WorkerContext) -> int:
        sent = await deliver(context)
        if sent:
            delivered.set()
            await asyncio.Event().wait()  # until cancelled
        return sent

    monkeypatch.setattr(
        runner,
        "JOBS",
        {"expire_unpaid_checkouts": slow_sweep_job, runner.DELIVER_WEBHOOKS: deliver_then_park},
    )
    quick = settings.model_copy(update={"worker_interval": timedelta(milliseconds=50)})
    m = await market(client, session)
    with WebhookReceiver() as receiver:
        endpoint = await create_endpoint(client, who=m.seller, url=receiver.url_for())
        await unpaid_order(client, market=m)

        began = time.monotonic()
        worker = asyncio.create_task(
            runner.run_forever(runner.WorkerContext(database, quick, SandboxProvider()))
        )
        try:
            (request,) = await receiver.wait_for_async(lambda seen: len(seen) >= 1, timeout=3)
            await asyncio.wait_for(delivered.wait(), 3)  # its outcome is recorded too
            took = time.monotonic() - began
            assert sweep_started.is_set()
            assert not sweep_finished.is_set()
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    assert took < 2
    (found,) = await list_deliveries(client, who=m.seller, endpoint_id=endpoint["id"])
    assert found["status"] == "succeeded"
    assert found["event_id"] == request.event_id


async def test_a_hanging_mail_server_holds_up_neither_the_sweep_nor_webhooks(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mail is sent in a loop of its own: while its job hangs (an SMTP server that never
    answers), the sweep and the webhook sender keep running. Real time (short), since this is
    about the loops' scheduling."""
    mail_hanging = asyncio.Event()
    swept = asyncio.Event()
    webhooks_sent = asyncio.Event()

    async def hanging_mail(_context: runner.WorkerContext) -> int:
        mail_hanging.set()
        await asyncio.Event().wait()  # until cancelled
        return 0

    async def sweep_job(_context: runner.WorkerContext) -> int:
        if mail_hanging.is_set():
            swept.set()
        return 0

    async def webhook_job(_context: runner.WorkerContext) -> int:
        if mail_hanging.is_set():
            webhooks_sent.set()
        return 0

    monkeypatch.setattr(
        runner,
        "JOBS",
        {
            "expire_unpaid_checkouts": sweep_job,
            runner.DELIVER_WEBHOOKS: webhook_job,
            runner.DELIVER_MAIL: hanging_mail,
        },
    )
    quick = settings.model_copy(update={"worker_interval": timedelta(milliseconds=50)})
    worker = asyncio.create_task(
        runner.run_forever(runner.WorkerContext(database, quick, SandboxProvider()))
    )
    try:
        await asyncio.wait_for(asyncio.gather(swept.wait(), webhooks_sent.wait()), 3)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert mail_hanging.is_set()
