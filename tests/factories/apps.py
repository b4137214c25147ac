"""Settings for a test's apps, and clients of apps other than the run's shared one."""

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from app.config import EmailBackend, Environment, Settings
from app.core.db import Database
from app.main import create_app

# Uploaded files of the whole run land here, never in the working tree.
MEDIA_DIR = Path(tempfile.mkdtemp(prefix="marketplace-test-media-"))


# What production requires beyond a real secret and argon2 cost (issue 17): mail sent through
# SMTP or not at all (the console backend keeps reset links in the database), and a key of
# its own for the TOTP secrets. Settings for production-only behaviour spread this in.
PRODUCTION_MAIL_AND_TOTP: dict[str, object] = {
    "email_backend": EmailBackend.none,
    "totp_encryption_key": "Zq4-hT8wLm2vXc6pRn0bKj5sDy9gFa3e",
}


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.test,
        "database_url": database_url,
        "log_json": False,
        "log_level": "WARNING",
        "run_worker_in_process": False,
        "media_dir": MEDIA_DIR,
        # The test clients' base URL: media URLs in answers are absolute under it.
        "public_url": "http://testserver",
        # Cheap argon2 keeps hundreds of logins fast; production refuses such values.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8,
        "password_hash_parallelism": 1,
        # One client makes every request of the run; tests/core/test_rate_limits.py turns
        # the limits on in apps of its own.
        "rate_limits_enabled": False,
        **overrides,
    }
    return Settings.model_validate(values)


@asynccontextmanager
async def client_with(database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app built on other `settings`, sharing this test's database
    transaction (so users made through another client exist here too)."""
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@asynccontextmanager
async def client_of_own_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with its own engine and pool on `settings` (not the run's shared test
    database), for tests of how the app meets its database: unreachable, cut, restored."""
    database = Database(settings)
    try:
        async with client_with(database, settings) as client:
            yield client
    finally:
        await database.dispose()
