"""Idempotency-Key on POST /v1/auth/register: replay, reuse, expiry, purge and concurrency."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.core.idempotency import Idempotency, IdempotencyRecord
from app.payments.provider import SandboxProvider
from app.worker.runner import WorkerContext, run_once
from tests.factories import DEFAULT_PASSWORD, assert_problem, login

REGISTER = "/v1/auth/register"
PURGE_JOB = "purge_expired_idempotency_keys"


def new_account(**overrides: str) -> dict[str, str]:
    return {
        "email": f"idem-{uuid.uuid4().hex[:10]}@example.com",
        "password": DEFAULT_PASSWORD,
        "display_name": "Idem",
        **overrides,
    }


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def count_users(session: AsyncSession, email: str) -> int:
    total = await session.scalar(
        select(func.count()).select_from(User).where(User.email == email.lower())
    )
    return int(total or 0)


async def count_records(session: AsyncSession, key: str | None = None) -> int:
    statement = select(func.count()).select_from(IdempotencyRecord)
    if key is not None:
        statement = statement.where(IdempotencyRecord.key == key)
    return int(await session.scalar(statement) or 0)


async def test_retry_with_same_key_and_body_replays_the_first_response(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    body = new_account()
    key = str(uuid.uuid4())

    first = await client.post(REGISTER, json=body, headers=keyed(key))
    retry = await client.post(REGISTER, json=body, headers=keyed(key))

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.content == first.content
    assert retry.headers["x-request-id"] != first.headers["x-request-id"]

    # One account: it logs in, the table holds one row, a fresh registration is refused.
    me = await login(client, body["email"])
    assert me.user_id == first.json()["id"]
    assert await count_users(session, body["email"]) == 1
    third = await client.post(REGISTER, json=body)
    assert_problem(third, 409, "email_taken")


async def test_same_key_with_a_different_body_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key = str(uuid.uuid4())
    original, other = new_account(), new_account()
    first = await client.post(REGISTER, json=original, headers=keyed(key))
    assert first.status_code == 201, first.text

    reused = await client.post(REGISTER, json=other, headers=keyed(key))

    assert_problem(reused, 422, "idempotency_key_reused")
    assert await count_users(session, other["email"]) == 0
    # The original is still what the key replays.
    again = await client.post(REGISTER, json=original, headers=keyed(key))
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_refused_first_attempt_is_not_stored(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Only successful effects are remembered: a retry after a refusal runs again."""
    taken = new_account()
    assert (await client.post(REGISTER, json=taken)).status_code == 201
    key = str(uuid.uuid4())

    refused = await client.post(REGISTER, json=taken, headers=keyed(key))
    assert_problem(refused, 409, "email_taken")
    assert await count_records(session, key) == 0

    fresh = new_account()
    created = await client.post(REGISTER, json=fresh, headers=keyed(key))
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers


async def test_different_keys_are_independent(client: httpx.AsyncClient) -> None:
    a = await client.post(REGISTER, json=new_account(), headers=keyed("key-a"))
    b = await client.post(REGISTER, json=new_account(), headers=keyed("key-b"))

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_key_length_is_validated(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(REGISTER, json=new_account(), headers=keyed(key))

    problem = assert_problem(response, 422, "validation_error")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert [error["loc"] for error in errors] == [["header", "Idempotency-Key"]]


async def test_key_is_replayed_for_24_hours_then_expires(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key = str(uuid.uuid4())
    original = new_account()
    first = await client.post(REGISTER, json=original, headers=keyed(key))
    assert first.status_code == 201

    clock.advance(timedelta(hours=23, minutes=59))
    within = await client.post(REGISTER, json=original, headers=keyed(key))
    assert within.headers.get("idempotent-replayed") == "true"
    assert within.json() == first.json()

    clock.advance(timedelta(hours=1, minutes=1))
    # Expired: the request runs again instead of being replayed (so the email is now taken)...
    rerun = await client.post(REGISTER, json=original, headers=keyed(key))
    assert_problem(rerun, 409, "email_taken")
    # ...and the key is free for a new request, which it then replays.
    other = new_account()
    fresh = await client.post(REGISTER, json=other, headers=keyed(key))
    assert fresh.status_code == 201, fresh.text
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["email"] == other["email"]
    replay = await client.post(REGISTER, json=other, headers=keyed(key))
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == fresh.json()
    assert await count_records(session, key) == 1


async def test_worker_purges_expired_keys_only(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    old = [str(uuid.uuid4()) for _ in range(2)]
    for key in old:
        assert (await client.post(REGISTER, json=new_account(), headers=keyed(key))).is_success
    assert (await run_once(WorkerContext(database, settings, SandboxProvider())))[PURGE_JOB] == 0

    clock.advance(timedelta(hours=23))
    young_body = new_account()
    young = str(uuid.uuid4())
    young_first = await client.post(REGISTER, json=young_body, headers=keyed(young))
    assert young_first.status_code == 201
    clock.advance(timedelta(hours=2))

    done = await run_once(WorkerContext(database, settings, SandboxProvider()))

    assert done[PURGE_JOB] == 2
    assert all(count >= 0 for count in done.values()), done
    assert await count_records(session) == 1
    assert await count_records(session, young) == 1
    assert (await run_once(WorkerContext(database, settings, SandboxProvider())))[PURGE_JOB] == 0
    replay = await client.post(REGISTER, json=young_body, headers=keyed(young))
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == young_first.json()


# --- real concurrency (PostgreSQL) -------------------------------------------------------


async def _count_committed_users(database: Database, email: str) -> int:
    async with database.session_scope() as session:
        return await count_users(session, email)


@pytest.mark.postgres_only
async def test_concurrent_duplicates_have_exactly_one_effect(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    body = new_account()
    key = str(uuid.uuid4())

    responses = await asyncio.gather(
        *(committed_client.post(REGISTER, json=body, headers=keyed(key)) for _ in range(5))
    )

    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 4
    assert await _count_committed_users(committed_database, body["email"]) == 1


@pytest.mark.postgres_only
async def test_duplicate_that_looked_before_the_first_committed_still_replays(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The interleaving a busy server produces: the duplicate finds no stored response, is
    descheduled, and resumes after the first request has committed. It must replay the
    committed response, not run the effect a second time."""
    original_stored = Idempotency._stored
    looked, first_done = asyncio.Event(), asyncio.Event()
    calls = 0

    async def stored_then_pause(self: Idempotency, scope: str) -> Any:
        nonlocal calls
        result = await original_stored(self, scope)
        calls += 1
        if calls == 1:  # the duplicate, on its first look
            looked.set()
            await first_done.wait()
        return result

    monkeypatch.setattr(Idempotency, "_stored", stored_then_pause)
    body = new_account()
    key = str(uuid.uuid4())

    duplicate = asyncio.create_task(committed_client.post(REGISTER, json=body, headers=keyed(key)))
    await looked.wait()
    first = await committed_client.post(REGISTER, json=body, headers=keyed(key))
    first_done.set()
    late = await duplicate

    assert first.status_code == 201, first.text
    assert late.status_code == 201, late.text
    assert late.headers.get("idempotent-replayed") == "true"
    assert late.json() == first.json()
    assert await _count_committed_users(committed_database, body["email"]) == 1
