"""The sweep loop. Each job runs in its own transaction, so killing the process at any moment
loses at most the unit in flight, which the next sweep redoes."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import purge_expired as purge_expired_auth
from app.config import Settings
from app.core.db import Database
from app.core.idempotency import purge_expired_records

logger = logging.getLogger("app.worker")

Job = Callable[[AsyncSession, Settings], Awaitable[int]]


async def _purge_idempotency(session: AsyncSession, _settings: Settings) -> int:
    return await purge_expired_records(session)


JOBS: dict[str, Job] = {
    "purge_expired_sessions": purge_expired_auth,
    "purge_expired_idempotency_keys": _purge_idempotency,
}


async def run_once(database: Database, settings: Settings) -> dict[str, int]:
    """One sweep of every job; a failing job is logged and does not stop the others."""
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        try:
            async with database.session_scope() as session:
                done[name] = await job(session, settings)
        except Exception:
            logger.exception("worker job %s failed", name)
            done[name] = -1
    return done


async def run_forever(database: Database, settings: Settings) -> None:
    interval = settings.worker_interval.total_seconds()
    while True:
        done = await run_once(database, settings)
        if any(done.values()):
            logger.info("worker sweep", extra={"jobs": done})
        await asyncio.sleep(interval)
