"""Without MARKETPLACE_DATABASE_READ_URL every read is the primary's; a read URL needs
PostgreSQL. (tests/deployment/test_read_replica.py shows a real replica serving the public
reads.)"""

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.factories.apps import make_settings
from tests.factories.statements import statements_on


@pytest.fixture
async def own_database(settings: Settings) -> AsyncIterator[Database]:
    """The app's own engine on the run's database (no test transaction around it)."""
    database = Database(settings)
    yield database
    await database.dispose()


async def test_without_a_read_url_public_reads_use_the_primary(
    settings: Settings, own_database: Database
) -> None:
    assert settings.database_read_url is None
    assert own_database.replica_engine is None
    assert own_database.replica_sessionmaker is own_database.read_sessionmaker
    app = create_app(settings, database=own_database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        with statements_on(own_database.engine) as on_primary:
            response = await client.get("/v1/listings")
            assert response.status_code == 200
    assert any("FROM listings" in statement for statement in on_primary)


@pytest.mark.parametrize(
    ("primary", "replica"),
    [
        ("sqlite+aiosqlite:///primary.db", "postgresql+asyncpg://db-replica/marketplace"),
        ("postgresql+asyncpg://db/marketplace", "sqlite+aiosqlite:///replica.db"),
    ],
)
def test_a_read_url_needs_postgresql(primary: str, replica: str) -> None:
    with pytest.raises(ValidationError, match="MARKETPLACE_DATABASE_READ_URL needs PostgreSQL"):
        make_settings(primary, database_read_url=replica)
