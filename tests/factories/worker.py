"""The worker, run in the test's process."""

from app.config import Settings
from app.core.db import Database
from app.payments.provider import SandboxProvider
from app.worker.runner import WorkerContext, run_once


async def sweep(database: Database, settings: Settings) -> dict[str, int]:
    """One worker sweep of every job, as `marketplace worker` runs it."""
    done = await run_once(WorkerContext(database, settings, SandboxProvider()))
    assert all(count >= 0 for count in done.values()), done  # no job crashed
    return done
