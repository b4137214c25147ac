"""`marketplace create-admin`: held to the password rule, and a promotion is a role change."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from tests.factories.accounts import create_user, login
from tests.factories.api import assert_problem
from tests.factories.cli import Cli


@pytest.fixture
def migrated(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    result = cli.run("migrate")
    assert result.returncode == 0, result.stderr
    return cli


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "1234567890", "admin@example.com1"])
def test_create_admin_refuses_a_guessable_password(migrated: Cli, password: str) -> None:
    result = migrated.run("create-admin", "admin@example.com", "--password", password)

    assert result.returncode == 2, result.stdout
    assert "refused: this password is too easy to guess" in result.stderr
    assert "Traceback" not in result.stderr
    assert migrated.query("SELECT count(*) FROM users") == [(0,)]


async def test_promoting_an_account_ends_its_sessions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email="ops@example.com")
    before = await login(client, email=user.email)

    await auth_service.create_admin(
        session, email=user.email, password="unused-for-an-existing-account", name="Ops"
    )

    assert_problem(await client.get("/v1/me", headers=before.headers), 401, "invalid_token")
    after = await login(client, email=user.email)
    me = await client.get("/v1/me", headers=after.headers)
    assert me.json()["roles"] == ["buyer", "admin"]
    # Running the command again changes no role, so the new session stays.
    await auth_service.create_admin(session, email=user.email, password="unused", name="Ops")
    assert (await client.get("/v1/me", headers=after.headers)).status_code == 200
