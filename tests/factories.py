"""Keyword-only factories and HTTP helpers for tests."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.core.security import hash_password

DEFAULT_PASSWORD = "a-long-test-password"


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
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> LoggedIn:
    response = await client.post("/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    return LoggedIn(
        user_id=me.json()["id"],
        email=email,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def register_and_login(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    display_name: str = "Test User",
) -> LoggedIn:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post(
        "/v1/auth/register",
        json={"email": email, "password": password, "display_name": display_name},
    )
    assert response.status_code == 201, response.text
    return await login(client, email, password)


def json_ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have this (success) status."""
    assert response.status_code == status, response.text
    return response.json()


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """The response is an RFC 9457 problem with this status and stable code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:marketplace:problem:{code}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "Traceback" not in response.text
    return body
