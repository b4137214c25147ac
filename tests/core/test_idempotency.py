"""Idempotency-Key: on POST /v1/auth/register (replay, reuse, expiry, purge, concurrency),
and on every other POST, which honours one without asking for it."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.core.errors import AppError
from app.core.idempotency import Idempotency, IdempotencyRecord
from app.payments.provider import SandboxProvider
from app.worker.runner import WorkerContext, run_once
from tests.factories.accounts import (
    DEFAULT_PASSWORD,
    LoggedIn,
    admin_user,
    buyer_user,
    create_user,
    login,
    register_and_login,
)
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.catalog import MY_LISTINGS, PNG_1X1, leaf_category, listing_body, live_listing
from tests.factories.mail import mails_in_outbox
from tests.factories.sellers import apply_ok, approved_seller

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


async def mail_templates(session: AsyncSession, email: str) -> list[str]:
    """The mail queued for `email`, by template, oldest first."""
    return [m.template for m in await mails_in_outbox(session, to=email)]


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

    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    assert retry.status_code == 202, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.content == first.content
    assert retry.headers["x-request-id"] != first.headers["x-request-id"]

    # One account: it logs in, the table holds one row, one verification mail was queued.
    me = await login(client, email=body["email"])
    assert await count_users(session, body["email"]) == 1
    assert await mail_templates(session, body["email"]) == ["verify_email"]
    # Without the key the same request runs again: answered alike (it tells nobody the
    # address is taken), it creates nothing and tells the owner instead.
    third = await client.post(REGISTER, json=body)
    assert third.status_code == 202, third.text
    assert "idempotent-replayed" not in third.headers
    assert third.json() == first.json()
    assert await count_users(session, body["email"]) == 1
    assert await mail_templates(session, body["email"]) == ["verify_email", "registration_attempt"]
    assert (await login(client, email=body["email"])).user_id == me.user_id


async def test_same_key_with_a_different_body_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key = str(uuid.uuid4())
    original, other = new_account(), new_account()
    first = await client.post(REGISTER, json=original, headers=keyed(key))
    assert first.status_code == 202, first.text

    reused = await client.post(REGISTER, json=other, headers=keyed(key))

    assert_problem(reused, 422, "idempotency_key_reused")
    assert await count_users(session, other["email"]) == 0
    assert await mail_templates(session, other["email"]) == []
    # The original is still what the key replays.
    again = await client.post(REGISTER, json=original, headers=keyed(key))
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_taken_address_is_answered_and_replayed_like_a_free_one(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Registering a taken address is no refusal any more (issue 17: the answer must not tell
    who has an account), so its key stores and replays the answer as for a free address; the
    replay does not tell the owner twice. (A refusal is not stored: see
    `test_a_refused_post_is_not_stored_and_its_key_stays_free`.)"""
    taken = new_account()
    assert (await client.post(REGISTER, json=taken)).status_code == 202
    key = str(uuid.uuid4())

    attempt = await client.post(REGISTER, json=taken, headers=keyed(key))
    retry = await client.post(REGISTER, json=taken, headers=keyed(key))

    assert_replayed(attempt, retry, 202)
    assert await count_records(session, key) == 1
    assert await count_users(session, taken["email"]) == 1
    assert await mail_templates(session, taken["email"]) == ["verify_email", "registration_attempt"]


async def test_different_keys_are_independent(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    one, other = new_account(), new_account()
    a = await client.post(REGISTER, json=one, headers=keyed("key-a"))
    b = await client.post(REGISTER, json=other, headers=keyed("key-b"))

    assert a.status_code == b.status_code == 202
    assert (a.json()["email"], b.json()["email"]) == (one["email"], other["email"])
    assert "idempotent-replayed" not in b.headers
    assert await count_users(session, one["email"]) == await count_users(session, other["email"])
    assert await count_users(session, other["email"]) == 1


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
    assert first.status_code == 202

    clock.advance(timedelta(hours=23, minutes=59))
    within = await client.post(REGISTER, json=original, headers=keyed(key))
    assert within.headers.get("idempotent-replayed") == "true"
    assert within.json() == first.json()

    clock.advance(timedelta(hours=1, minutes=1))
    assert await mail_templates(session, original["email"]) == ["verify_email"]
    # Expired: the request runs again instead of being replayed (so the email is now taken
    # and its owner is told)...
    rerun = await client.post(REGISTER, json=original, headers=keyed(key))
    assert rerun.status_code == 202, rerun.text
    assert "idempotent-replayed" not in rerun.headers
    assert await mail_templates(session, original["email"]) == [
        "verify_email",
        "registration_attempt",
    ]
    assert await count_users(session, original["email"]) == 1
    # ...and its answer is what the key now replays, until it expires in turn.
    replayed = await client.post(REGISTER, json=original, headers=keyed(key))
    assert replayed.headers.get("idempotent-replayed") == "true"
    other = new_account()
    assert_problem(
        await client.post(REGISTER, json=other, headers=keyed(key)), 422, "idempotency_key_reused"
    )
    clock.advance(timedelta(hours=24, minutes=1))
    fresh = await client.post(REGISTER, json=other, headers=keyed(key))
    assert fresh.status_code == 202, fresh.text
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
    assert young_first.status_code == 202
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

    assert [r.status_code for r in responses] == [202] * 5, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 4
    assert await _count_committed_users(committed_database, body["email"]) == 1


@pytest.mark.postgres_only
async def test_a_duplicate_that_arrives_while_the_first_is_in_flight_replays_it(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The interleaving a busy server produces: the first request has claimed the key and
    is still working when the duplicate arrives. The duplicate's claim waits for the first
    to commit (PostgreSQL: the row; SQLite: the writer lock) and then replays its response;
    it never runs the effect."""
    original_effect = Idempotency._effect
    claimed, release = asyncio.Event(), asyncio.Event()
    effects = 0

    async def pause_the_first(self: Idempotency, record_id: uuid.UUID, produce: Any) -> Any:
        nonlocal effects
        effects += 1
        if effects == 1:
            claimed.set()
            await release.wait()
        return await original_effect(self, record_id, produce)

    monkeypatch.setattr(Idempotency, "_effect", pause_the_first)
    body = new_account()
    key = str(uuid.uuid4())

    first = asyncio.create_task(committed_client.post(REGISTER, json=body, headers=keyed(key)))
    await claimed.wait()
    duplicate = asyncio.create_task(committed_client.post(REGISTER, json=body, headers=keyed(key)))
    await asyncio.sleep(0.2)  # lets the duplicate reach its claim (correct either way)
    release.set()
    answered, late = await first, await duplicate

    assert answered.status_code == 202, answered.text
    assert late.status_code == 202, late.text
    assert late.headers.get("idempotent-replayed") == "true"
    assert late.json() == answered.json()
    assert effects == 1
    assert await _count_committed_users(committed_database, body["email"]) == 1


# --- every POST: the key is honoured without the route asking for it -----------------------

LISTINGS = "/v1/listings"
ENDPOINTS = "/v1/webhooks/endpoints"
CONVERSATIONS = "/v1/conversations"
PUBLIC_IPV4 = "93.184.215.14"  # a global address: a webhook target without DNS


@dataclass(frozen=True)
class Shop:
    admin: LoggedIn
    seller: LoggedIn
    category_id: str


@pytest.fixture
async def shop(client: httpx.AsyncClient, session: AsyncSession) -> Shop:
    admin = await admin_user(client, session)
    seller, _ = await approved_seller(client, session, admin=admin)
    return Shop(admin, seller, await leaf_category(client, admin=admin))


async def seller_approved_by(client: httpx.AsyncClient, admin: LoggedIn) -> LoggedIn:
    user = await register_and_login(client, display_name="Seller")
    seller_id = (await apply_ok(client, who=user))["id"]
    json_ok(await client.post(f"/v1/admin/sellers/{seller_id}/approve", headers=admin.headers))
    return user


def with_key(who: LoggedIn, key: str) -> dict[str, str]:
    return {**who.headers, "Idempotency-Key": key}


async def items(client: httpx.AsyncClient, who: LoggedIn, path: str) -> list[Json]:
    found: list[Json] = json_ok(await client.get(path, headers=who.headers))["items"]
    return found


def assert_replayed(first: httpx.Response, retry: httpx.Response, status: int) -> None:
    assert first.status_code == status, first.text
    assert "idempotent-replayed" not in first.headers
    assert retry.status_code == status, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content


@dataclass(frozen=True)
class Case:
    """One POST that creates something, and how to count what it created."""

    path: str
    body: Json
    other_body: Json
    status: int
    count_path: str


async def case_for(name: str, client: httpx.AsyncClient, shop: Shop) -> tuple[Case, LoggedIn]:
    """The request, and who sends it."""
    if name == "listing":
        body = listing_body(category_id=shop.category_id)
        case = Case(LISTINGS, body, {**body, "title": "Another mug"}, 201, MY_LISTINGS)
        return case, shop.seller
    if name == "webhook endpoint":
        body = {"url": f"https://{PUBLIC_IPV4}/hooks", "event_types": ["order.paid"]}
        case = Case(ENDPOINTS, body, {**body, "description": "other"}, 201, ENDPOINTS)
        return case, shop.seller
    assert name == "conversation"
    listing = await live_listing(client, seller=shop.seller, category_id=shop.category_id)
    body = {"listing_id": listing["id"], "message": "Is it still available?"}
    case = Case(CONVERSATIONS, body, {**body, "message": "Hello?"}, 201, CONVERSATIONS)
    return case, await buyer_user(client)


CREATING_POSTS = ["listing", "webhook endpoint", "conversation"]


@pytest.mark.parametrize("name", CREATING_POSTS)
async def test_a_creating_post_retried_with_its_key_creates_once(
    client: httpx.AsyncClient, shop: Shop, name: str
) -> None:
    case, who = await case_for(name, client, shop)
    key = str(uuid.uuid4())

    first = await client.post(case.path, json=case.body, headers=with_key(who, key))
    retry = await client.post(case.path, json=case.body, headers=with_key(who, key))

    assert_replayed(first, retry, case.status)
    created = await items(client, who, case.count_path)
    assert [item["id"] for item in created] == [first.json()["id"]]
    # Without a key the same request is a new one (here: one more of it, or the
    # conversation's second message), as before.
    again = await client.post(case.path, json=case.body, headers=who.headers)
    assert again.is_success, again.text
    assert "idempotent-replayed" not in again.headers


@pytest.mark.parametrize("name", CREATING_POSTS)
async def test_a_creating_posts_key_with_another_body_is_refused(
    client: httpx.AsyncClient, shop: Shop, name: str
) -> None:
    case, who = await case_for(name, client, shop)
    key = str(uuid.uuid4())
    first = await client.post(case.path, json=case.body, headers=with_key(who, key))
    assert first.status_code == case.status, first.text

    reused = await client.post(case.path, json=case.other_body, headers=with_key(who, key))

    assert_problem(reused, 422, "idempotency_key_reused")
    assert len(await items(client, who, case.count_path)) == 1


async def test_a_conversations_retry_does_not_send_its_message_twice(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    """Without the key a second start adds the message to the conversation (200); the retry
    of the first gets the first answer (201) and adds nothing."""
    case, buyer = await case_for("conversation", client, shop)
    key = str(uuid.uuid4())
    first = await client.post(case.path, json=case.body, headers=with_key(buyer, key))
    retry = await client.post(case.path, json=case.body, headers=with_key(buyer, key))

    assert_replayed(first, retry, 201)
    messages = f"{CONVERSATIONS}/{first.json()['id']}/messages"
    assert len(await items(client, buyer, messages)) == 1


async def test_keys_of_different_callers_never_meet(client: httpx.AsyncClient, shop: Shop) -> None:
    other = await seller_approved_by(client, shop.admin)
    key = str(uuid.uuid4())
    body = listing_body(category_id=shop.category_id)

    mine = await client.post(LISTINGS, json=body, headers=with_key(shop.seller, key))
    theirs = await client.post(LISTINGS, json=body, headers=with_key(other, key))

    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]


async def test_a_retried_upload_is_the_same_request_whatever_its_multipart_boundary(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    listing = json_ok(
        await client.post(
            LISTINGS, json=listing_body(category_id=shop.category_id), headers=shop.seller.headers
        ),
        201,
    )
    images = f"{LISTINGS}/{listing['id']}/images"
    key = str(uuid.uuid4())

    def upload(content: bytes) -> dict[str, tuple[str, bytes, str]]:
        return {"file": ("mug.png", content, "image/png")}

    # httpx draws a new boundary for every request, so the two bodies differ in bytes.
    first = await client.post(images, files=upload(PNG_1X1), headers=with_key(shop.seller, key))
    retry = await client.post(images, files=upload(PNG_1X1), headers=with_key(shop.seller, key))
    other = await client.post(
        images, files=upload(PNG_1X1 + b"\0"), headers=with_key(shop.seller, key)
    )

    assert_replayed(first, retry, 201)
    assert len(retry.json()["images"]) == 1
    assert_problem(other, 422, "idempotency_key_reused")


async def test_a_refused_post_is_not_stored_and_its_key_stays_free(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    key = str(uuid.uuid4())
    body = listing_body(category_id=str(uuid.uuid4()))  # no such category
    refused = await client.post(LISTINGS, json=body, headers=with_key(shop.seller, key))
    assert_problem(refused, 422, "unknown_category")
    assert await count_records(session, key) == 0

    fixed = listing_body(category_id=shop.category_id)
    created = await client.post(LISTINGS, json=fixed, headers=with_key(shop.seller, key))
    assert created.status_code == 201, created.text


class _CountedRefusal(AppError):
    status, code, title = 403, "counted", "Refused, and the attempt is counted"
    keeps_changes = True


async def test_a_refusal_that_keeps_its_changes_does_not_keep_the_key(
    app: FastAPI, session: AsyncSession
) -> None:
    """Such a refusal commits the request's transaction (a wrong password is counted): the
    key's pending record must not be committed with it, or every retry would be "in
    progress" until the key expires."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    request = Request(
        {"type": "http", "method": "POST", "path": "/v1/x", "headers": [], "app": app}, receive
    )
    key = str(uuid.uuid4())
    idempotency = Idempotency(session, request, Response(), key, required=False)

    async def refuse() -> Response:
        raise _CountedRefusal()

    with pytest.raises(_CountedRefusal):
        await idempotency.respond(scope="someone", produce=refuse)
    assert await count_records(session, key) == 0


async def test_answers_holding_credentials_are_never_stored(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A login's tokens are kept only hashed: the key is ignored rather than the tokens
    written in clear into the replay store."""
    user = await create_user(session)
    form = {"username": user.email, "password": DEFAULT_PASSWORD}
    key = str(uuid.uuid4())

    first = await client.post("/v1/auth/token", data=form, headers=keyed(key))
    second = await client.post("/v1/auth/token", data=form, headers=keyed(key))

    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert first.json()["refresh_token"] != second.json()["refresh_token"]
    assert await count_records(session, key) == 0


async def test_every_post_documents_the_optional_key(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    # Their answers hold credentials (tokens, keys, a TOTP secret, recovery codes).
    never_stored = {
        "/v1/auth/token",
        "/v1/auth/refresh",
        "/v1/me/api-keys",
        "/v1/me/totp",
        "/v1/me/totp/confirm",
        "/v1/me/totp/recovery-codes",
    }
    posts = [(path, item["post"]) for path, item in spec["paths"].items() if "post" in item]

    assert len(posts) > 30
    for path, operation in posts:
        keys = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        if path in never_stored:
            assert keys == [], path
            continue
        assert [key["in"] for key in keys] == ["header"], path
        assert "`idempotency_key_reused`" in operation["responses"]["422"]["description"], path


@pytest.mark.postgres_only
async def test_concurrent_duplicates_of_any_post_create_once(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    async with committed_database.session_scope() as session:
        admin_account = await create_user(session, is_admin=True)
    admin = await login(committed_client, email=admin_account.email)
    seller = await seller_approved_by(committed_client, admin)
    category_id = await leaf_category(committed_client, admin=admin)
    body = listing_body(category_id=category_id)
    key = str(uuid.uuid4())

    responses = await asyncio.gather(
        *(
            committed_client.post(LISTINGS, json=body, headers=with_key(seller, key))
            for _ in range(5)
        )
    )

    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 4
    assert len(await items(committed_client, seller, MY_LISTINGS)) == 1
