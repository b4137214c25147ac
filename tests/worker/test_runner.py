"""The worker's sweep: purges what has expired, and one failing job does not stop the rest."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.models import LoginFailure, RefreshToken
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.payments.provider import SandboxProvider
from app.worker import runner
from tests.factories import register_and_login


async def _count(database: Database, model: type[RefreshToken] | type[LoginFailure]) -> int:
    async with database.session_scope() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_sweep_purges_expired_sessions_and_old_login_failures(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    me = await register_and_login(client)
    await client.post("/v1/auth/token", data={"username": me.email, "password": "wrong-password"})
    assert await _count(database, RefreshToken) == 1
    assert await _count(database, LoginFailure) == 1

    first = await runner.run_once(runner.WorkerContext(database, settings, SandboxProvider()))
    assert first["purge_expired_sessions"] == 0
    assert await _count(database, RefreshToken) == 1

    clock.advance(settings.refresh_token_ttl + timedelta(seconds=1))
    second = await runner.run_once(runner.WorkerContext(database, settings, SandboxProvider()))

    assert second["purge_expired_sessions"] == 2
    assert await _count(database, RefreshToken) == 0
    assert await _count(database, LoginFailure) == 0


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
