"""Register → token → /v1/me → refresh → reuse of the spent token → logout, over HTTP."""

import httpx

from tests.factories.accounts import register_and_login
from tests.factories.api import assert_problem


async def test_full_session_lifecycle(client: httpx.AsyncClient) -> None:
    me = await register_and_login(client, email="Ada@Example.com", display_name="Ada")
    assert me.email == "Ada@Example.com"

    response = await client.get("/v1/me", headers=me.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["display_name"] == "Ada"
    assert body["roles"] == ["buyer"]

    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
    assert rotated.status_code == 200, rotated.text
    new_pair = rotated.json()
    assert new_pair["refresh_token"] != me.refresh_token
    assert new_pair["token_type"] == "bearer"

    # Presenting the spent token again: 401, and the whole family is revoked...
    reused = await client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
    assert_problem(reused, 401, "refresh_token_reused")
    # ...so the newer token, issued from the same login, no longer works either.
    after = await client.post("/v1/auth/refresh", json={"refresh_token": new_pair["refresh_token"]})
    assert after.status_code == 401

    again = await register_and_login(client, email="grace@example.com")
    logout = await client.post("/v1/auth/logout", json={"refresh_token": again.refresh_token})
    assert logout.status_code == 204
    refused = await client.post("/v1/auth/refresh", json={"refresh_token": again.refresh_token})
    assert_problem(refused, 401, "invalid_token")
