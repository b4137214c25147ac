"""Opaque keyset cursors: the codec on its own, then walking GET /v1/admin/users."""

import asyncio
import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.core.pagination import InvalidCursor, SortKey, decode_cursor, encode_cursor
from app.core.security import hash_password
from tests.factories.accounts import LoggedIn, create_user, login
from tests.factories.api import assert_problem

USERS = "/v1/admin/users"
# One hash shared by the many rows the listing tests insert (argon2 is slow on purpose).
_SHARED_HASH = asyncio.run(hash_password("a-long-test-password"))


def raw_cursor(values: Any) -> str:
    """A cursor as a client could forge it: any JSON, base64url-encoded."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def forged(cursor: str, value: Any) -> str:
    """`cursor` with its one UUID key value swapped for `value`: the cursor's layout is kept,
    so only the swapped value can make it invalid."""
    values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    positions = [i for i, v in enumerate(values) if isinstance(v, dict) and set(v) == {"u"}]
    assert len(positions) == 1, values
    values[positions[0]] = value
    return raw_cursor(values)


ID_KEY = [SortKey(User.id, descending=True)]
TIME_THEN_ID = [SortKey(User.created_at, descending=True), SortKey(User.id, descending=True)]


# --- the codec ---------------------------------------------------------------------------


def test_cursor_round_trips_its_key_values() -> None:
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    key = uuid.uuid4()

    decoded = decode_cursor(encode_cursor([at, key]), TIME_THEN_ID)

    assert decoded == [at, key]
    assert isinstance(decoded[0], datetime)
    assert decoded[0].tzinfo is not None
    assert isinstance(decoded[1], uuid.UUID)
    assert decode_cursor(encode_cursor(["a/b+c=?&"]), [SortKey(User.email)]) == ["a/b+c=?&"]


def test_forged_keeps_a_cursor_valid_when_the_value_is_valid() -> None:
    key, other = uuid.uuid4(), uuid.uuid4()

    assert decode_cursor(forged(encode_cursor([key]), {"u": str(other)}), ID_KEY) == [other]


def test_cursor_is_url_safe_and_opaque() -> None:
    cursor = encode_cursor([datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4(), "a/b+c=?&"])

    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert "2026" not in cursor


def test_equal_keys_give_equal_cursors() -> None:
    key = uuid.uuid4()

    assert encode_cursor([key]) == encode_cursor([uuid.UUID(str(key))])
    assert encode_cursor([key]) != encode_cursor([uuid.uuid4()])


def test_cursor_of_another_ordering_is_invalid_cursor() -> None:
    cursor = encode_cursor([uuid.uuid4()], "newest")

    assert len(decode_cursor(cursor, ID_KEY, "newest")) == 1
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, ID_KEY, "price_asc")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("", id="empty"),
        pytest.param("!!!", id="not-base64"),
        pytest.param("é", id="non-ascii"),
        pytest.param("abc", id="bad-padding"),
        pytest.param(base64.urlsafe_b64encode(b"not json").decode(), id="not-json"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="not-utf8"),
        pytest.param(raw_cursor({"u": str(uuid.uuid4())}), id="object-not-list"),
        pytest.param(raw_cursor("a string"), id="string-not-list"),
        pytest.param(raw_cursor([]), id="empty-list"),
    ],
)
def test_malformed_cursor_is_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        decode_cursor(cursor, ID_KEY)

    assert caught.value.status == 422
    assert caught.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([1], id="nested-list"),
        pytest.param({"x": 1}, id="unknown-tag"),
        pytest.param({"t": "a", "u": "b"}, id="two-tags"),
        pytest.param({"t": "yesterday"}, id="bad-datetime"),
        pytest.param({"u": "not-a-uuid"}, id="bad-uuid"),
        pytest.param(str(uuid.uuid4()), id="untagged-uuid-string"),
        pytest.param({"t": "2026-01-01T00:00:00+00:00"}, id="datetime-for-a-uuid-key"),
        pytest.param(None, id="null"),
        pytest.param(True, id="boolean"),
    ],
)
def test_malformed_value_is_invalid_cursor(value: Any) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(forged(encode_cursor([uuid.uuid4()]), value), ID_KEY)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"t": 5}, id="datetime-tag-holding-a-number"),
        pytest.param({"u": 5}, id="uuid-tag-holding-a-number"),
        pytest.param({"u": ["x"]}, id="uuid-tag-holding-a-list"),
    ],
)
def test_tagged_value_of_the_wrong_type_is_invalid_cursor(value: Any) -> None:
    """The decoder must turn every bad value into InvalidCursor, not a TypeError or an
    AttributeError (which the API would answer with a 500)."""
    with pytest.raises(InvalidCursor):
        decode_cursor(forged(encode_cursor([uuid.uuid4()]), value), ID_KEY)


@pytest.mark.parametrize("keys", [ID_KEY, [*TIME_THEN_ID, SortKey(User.email)]])
def test_cursor_of_another_width_is_invalid_cursor(keys: list[SortKey]) -> None:
    cursor = encode_cursor([datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()])

    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, keys)


# --- through HTTP ------------------------------------------------------------------------


async def add_users(session: AsyncSession, prefix: str, count: int) -> list[User]:
    users = [
        User(
            email=f"{prefix}{i:03d}@example.com",
            password_hash=_SHARED_HASH,
            display_name=f"Listed {i}",
        )
        for i in range(count)
    ]
    session.add_all(users)
    await session.flush()
    return users


async def admin_login(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    admin = await create_user(session, is_admin=True)
    return await login(client, email=admin.email)


async def walk(
    client: httpx.AsyncClient, admin: LoggedIn, params: dict[str, Any]
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(USERS, params=query, headers=admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not terminate"


async def test_walking_pages_returns_every_row_once_in_key_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_login(client, session)
    prefix = f"walk-{uuid.uuid4().hex[:8]}-"
    created = await add_users(session, prefix, 7)

    pages = await walk(client, admin, {"limit": 3, "email": prefix})

    assert [len(page) for page in pages] == [3, 3, 1]
    ids = [uuid.UUID(item["id"]) for page in pages for item in page]
    assert len(ids) == len(set(ids))
    assert set(ids) == {u.id for u in created}
    assert ids == sorted(ids, reverse=True)


async def test_a_page_that_ends_exactly_at_the_end_has_no_next_cursor(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_login(client, session)
    prefix = f"exact-{uuid.uuid4().hex[:8]}-"
    await add_users(session, prefix, 4)

    pages = await walk(client, admin, {"limit": 2, "email": prefix})

    assert [len(page) for page in pages] == [2, 2]


async def test_default_limit_is_20(client: httpx.AsyncClient, session: AsyncSession) -> None:
    admin = await admin_login(client, session)
    prefix = f"default-{uuid.uuid4().hex[:8]}-"
    await add_users(session, prefix, 21)

    first = await client.get(USERS, params={"email": prefix}, headers=admin.headers)

    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 20
    assert first.json()["next_cursor"] is not None
    rest = await client.get(
        USERS,
        params={"email": prefix, "cursor": first.json()["next_cursor"]},
        headers=admin.headers,
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None


async def test_cursor_is_stable_under_inserts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_login(client, session)
    prefix = f"stable-{uuid.uuid4().hex[:8]}-"
    created = await add_users(session, prefix, 6)
    first = await client.get(USERS, params={"email": prefix, "limit": 3}, headers=admin.headers)
    assert first.status_code == 200
    first_ids = [item["id"] for item in first.json()["items"]]

    # Newer rows sort first: with offsets they would push already-seen rows onto page two.
    await add_users(session, f"{prefix}late-", 3)
    rest = await walk(
        client, admin, {"email": prefix, "limit": 3, "cursor": first.json()["next_cursor"]}
    )

    rest_ids = [item["id"] for page in rest for item in page]
    assert not set(first_ids) & set(rest_ids)
    assert {uuid.UUID(i) for i in first_ids + rest_ids} == {u.id for u in created}


@pytest.mark.parametrize("limit", ["0", "-1", "101", "many"])
async def test_limit_out_of_range_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession, limit: str
) -> None:
    admin = await admin_login(client, session)

    response = await client.get(USERS, params={"limit": limit}, headers=admin.headers)

    problem = assert_problem(response, 422, "validation_error")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert [error["loc"] for error in errors] == [["query", "limit"]]


async def test_limit_100_is_allowed(client: httpx.AsyncClient, session: AsyncSession) -> None:
    admin = await admin_login(client, session)
    prefix = f"max-{uuid.uuid4().hex[:8]}-"
    await add_users(session, prefix, 101)

    response = await client.get(
        USERS, params={"limit": 100, "email": prefix}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 100
    assert response.json()["next_cursor"] is not None


async def test_overlong_cursor_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_login(client, session)

    response = await client.get(USERS, params={"cursor": "A" * 513}, headers=admin.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"] == [
        {"loc": ["query", "cursor"], "msg": "String should have at most 512 characters"}
    ]


async def real_cursor(client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn) -> str:
    prefix = f"cursor-{uuid.uuid4().hex[:8]}-"
    await add_users(session, prefix, 2)
    response = await client.get(USERS, params={"limit": 1, "email": prefix}, headers=admin.headers)
    assert response.status_code == 200, response.text
    cursor: str = response.json()["next_cursor"]
    assert cursor
    return cursor


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage!", id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"[1,").decode(), id="not-json"),
        pytest.param(raw_cursor({"a": 1}), id="not-a-list"),
    ],
)
async def test_malformed_cursor_over_http_is_invalid_cursor(
    client: httpx.AsyncClient, session: AsyncSession, cursor: str
) -> None:
    admin = await admin_login(client, session)

    response = await client.get(USERS, params={"cursor": cursor}, headers=admin.headers)

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"u": "nope"}, id="bad-uuid"),
        pytest.param({"u": 5}, id="uuid-tag-holding-a-number"),
        pytest.param({"t": 5}, id="datetime-tag-holding-a-number"),
        pytest.param(None, id="null"),
        pytest.param(True, id="boolean"),
        pytest.param("abc", id="string-for-a-uuid-key"),
        pytest.param(123, id="integer-for-a-uuid-key"),
        pytest.param({"t": "2026-01-01T00:00:00+00:00"}, id="datetime-for-a-uuid-key"),
    ],
)
async def test_forged_cursor_of_the_wrong_type_is_invalid_cursor_not_500(
    client: httpx.AsyncClient, session: AsyncSession, value: Any
) -> None:
    """A well-formed cursor whose key value does not fit this listing's sort key (forged, or
    taken from another list) is the client's mistake: 422, never a crash or a wrong page."""
    admin = await admin_login(client, session)
    cursor = forged(await real_cursor(client, session, admin), value)

    response = await client.get(USERS, params={"cursor": cursor}, headers=admin.headers)

    assert_problem(response, 422, "invalid_cursor")
