"""The cast most catalog tests need, each made through the HTTP API."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user, buyer_user
from tests.factories.catalog import leaf_category
from tests.factories.sellers import approved_seller


@pytest.fixture
async def admin(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    return await admin_user(client, session)


@pytest.fixture
async def seller_and_id(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> tuple[LoggedIn, str]:
    return await approved_seller(client, session, admin=admin)


@pytest.fixture
def seller(seller_and_id: tuple[LoggedIn, str]) -> LoggedIn:
    return seller_and_id[0]


@pytest.fixture
async def other_seller(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> LoggedIn:
    user, _ = await approved_seller(client, session, admin=admin)
    return user


@pytest.fixture
async def buyer(client: httpx.AsyncClient) -> LoggedIn:
    return await buyer_user(client)


@pytest.fixture
async def category_id(client: httpx.AsyncClient, admin: LoggedIn) -> str:
    return await leaf_category(client, admin=admin)
