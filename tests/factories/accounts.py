"""Users and their logins: made in the database or registered through the API."""

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.core.security import hash_password
from tests.factories.api import Json, json_ok

DEFAULT_PASSWORD = "a-long-test-password"
ME = "/v1/me"
REGISTER = "/v1/auth/register"


async def create_user(
    session: AsyncSession,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    display_name: str = "Test User",
    is_admin: bool = False,
) -> User:
    user = User(
        email=(email or f"user-{uuid.uuid4().hex[:10]}@example.com").lower(),
        password_hash=await hash_password(password),
        display_name=display_name,
        is_admin=is_admin,
    )
    session.add(user)
    await session.flush()
    return user


@dataclass(frozen=True)
class LoggedIn:
    user_id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(
    client: httpx.AsyncClient, *, email: str, password: str = DEFAULT_PASSWORD
) -> LoggedIn:
    response = await client.post("/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = await client.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    return LoggedIn(
        user_id=me.json()["id"],
        email=email,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def post_register(
    client: httpx.AsyncClient,
    *,
    email: str,
    password: str = DEFAULT_PASSWORD,
    display_name: str = "Test User",
) -> httpx.Response:
    return await client.post(
        REGISTER, json={"email": email, "password": password, "display_name": display_name}
    )


def registration_accepted(response: httpx.Response, *, email: str) -> Json:
    """A registration's answer: 202 and the same body whether the address was free or not
    (so it tells nobody who has an account)."""
    body: Json = json_ok(response, 202)
    assert set(body) == {"email", "status", "detail"}, body
    assert body["email"] == email.lower()
    assert body["status"] == "verification_sent"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


async def register_and_login(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    display_name: str = "Test User",
) -> LoggedIn:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await post_register(
        client, email=email, password=password, display_name=display_name
    )
    registration_accepted(response, email=email)
    return await login(client, email=email, password=password)


async def relogin(client: httpx.AsyncClient, *, who: LoggedIn) -> LoggedIn:
    """Fresh tokens, for after the clock was moved past the access token's lifetime."""
    return await login(client, email=who.email)


async def admin_user(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    """A logged-in admin (admins are made in the database: the API cannot make one)."""
    user = await create_user(session, is_admin=True, display_name="Admin")
    return await login(client, email=user.email)


async def buyer_user(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, display_name="Buyer")


async def me(client: httpx.AsyncClient, *, who: LoggedIn) -> Json:
    body: Json = json_ok(await client.get(ME, headers=who.headers))
    return body
