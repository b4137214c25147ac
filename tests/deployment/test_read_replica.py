"""MARKETPLACE_DATABASE_READ_URL on a real streaming replica: the public reads are served by
the replica, writes and a shop's own view by the primary.

A scratch primary and its hot standby (tests/factories/replica.py) on ports of their own; the
app is built on both, data is made through its API, and each request's statements are counted
per engine. With the standby's replay paused, a listing published since is missing from the
public search (the replica answers) yet on its seller's page (the primary answers).
"""

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from app.cli import migrate
from app.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.factories.accounts import create_user, login, register_and_login
from tests.factories.api import json_ok
from tests.factories.apps import make_settings
from tests.factories.catalog import listing_for_sale, nested_leaf_category, search_ids
from tests.factories.replica import Cluster, caught_up, replay_paused, streaming_replica
from tests.factories.sellers import approved_seller
from tests.factories.statements import statements_on

pytestmark = pytest.mark.postgres_only

DATABASE = "marketplace"


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    with streaming_replica() as (primary, replica):
        asyncio.run(_create_database(primary))
        yield primary, replica


async def _create_database(primary: Cluster) -> None:
    connection = await asyncpg.connect(primary.dsn())
    try:
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def replicated_settings(clusters: tuple[Cluster, Cluster]) -> Settings:
    primary, replica = clusters
    settings = make_settings(primary.url(DATABASE), database_read_url=replica.url(DATABASE))
    migrate(settings)
    return settings


@pytest.fixture
async def database(replicated_settings: Settings) -> AsyncIterator[Database]:
    database = Database(replicated_settings)
    yield database
    await database.dispose()


@pytest.fixture
async def client(
    replicated_settings: Settings, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replicated_settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_read_session_is_on_the_standby(database: Database) -> None:
    async with database.replica_sessionmaker() as replica:
        assert await replica.scalar(text("SELECT pg_is_in_recovery()")) is True
    async with database.sessionmaker() as primary:
        assert await primary.scalar(text("SELECT pg_is_in_recovery()")) is False


async def test_public_reads_go_to_the_replica_and_writes_to_the_primary(
    clusters: tuple[Cluster, Cluster], database: Database, client: httpx.AsyncClient
) -> None:
    primary_cluster, replica_cluster = clusters
    assert database.replica_engine is not None
    async with database.session_scope() as session:
        admin_user = await create_user(session, is_admin=True)
    admin = await login(client, email=admin_user.email)
    async with database.session_scope() as session:
        seller, shop_id = await approved_seller(client, session, admin=admin)
    category_id = await nested_leaf_category(client, admin=admin)
    listing = await listing_for_sale(client, seller=seller, category_id=category_id)
    buyer = await register_and_login(client)
    await caught_up(primary_cluster, replica_cluster)

    public_reads = [
        ("/v1/listings", {"category": category_id}),
        (f"/v1/listings/{listing['id']}", {}),
        ("/v1/categories", {}),
        (f"/v1/sellers/{shop_id}", {}),
        (f"/v1/sellers/{shop_id}/reviews", {}),
        (f"/v1/listings/{listing['id']}/reviews", {}),
        (f"/v1/users/{buyer.user_id}", {}),
        (f"/v1/users/{buyer.user_id}/reviews", {}),
    ]
    for path, params in public_reads:
        with (
            statements_on(database.engine) as on_primary,
            statements_on(database.replica_engine) as on_replica,
        ):
            json_ok(await client.get(path, params=params))
        # The category tree may come from the process's cache: no statement at all.
        assert on_primary == [], path
        assert on_replica or path == "/v1/categories", path
    # A buyer's view of a listing is the public one: the replica's.
    with statements_on(database.engine) as on_primary:
        json_ok(await client.get(f"/v1/listings/{listing['id']}", headers=buyer.headers))
    assert not any("FROM listings" in s for s in on_primary)

    # A write, and the seller's own reads, are the primary's.
    with (
        statements_on(database.engine) as on_primary,
        statements_on(database.replica_engine) as on_replica,
    ):
        async with replay_paused(replica_cluster):
            fresh = await listing_for_sale(
                client, seller=seller, category_id=category_id, title="Fresh print"
            )
            # Published while the standby stands still: the public search (the replica)
            # cannot know it yet, its seller's page (the primary) does.
            assert fresh["id"] not in await search_ids(client, category=category_id)
            seen_by_seller = json_ok(
                await client.get(f"/v1/listings/{fresh['id']}", headers=seller.headers)
            )
            assert seen_by_seller["id"] == fresh["id"]
    assert any(s.lstrip().upper().startswith("INSERT INTO LISTINGS") for s in on_primary)
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in on_replica)
    await caught_up(primary_cluster, replica_cluster)
    assert fresh["id"] in await search_ids(client, category=category_id)
