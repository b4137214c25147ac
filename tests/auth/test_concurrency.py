"""Races on real connections with real commits (PostgreSQL)."""

import asyncio

import httpx
import pytest

from tests.factories import register_and_login

pytestmark = pytest.mark.postgres_only


async def test_concurrent_refresh_with_one_token_rotates_exactly_once(
    committed_client: httpx.AsyncClient,
) -> None:
    me = await register_and_login(committed_client)

    responses = await asyncio.gather(
        *(
            committed_client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
            for _ in range(8)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 7, statuses
    codes = {r.json()["code"] for r in responses if r.status_code == 401}
    assert codes == {"refresh_token_reused"}
    # Reuse revoked the family, so even the one winner's new token is dead.
    winner = next(r for r in responses if r.status_code == 200).json()
    after = await committed_client.post(
        "/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]}
    )
    assert after.status_code == 401


async def test_concurrent_registrations_of_one_email_create_one_account(
    committed_client: httpx.AsyncClient,
) -> None:
    body = {"email": "race@example.com", "password": "a-long-test-password", "display_name": "R"}

    responses = await asyncio.gather(
        *(committed_client.post("/v1/auth/register", json=body) for _ in range(6))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 5, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"email_taken"}
