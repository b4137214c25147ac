"""/v1/admin/users: who may use it, paging through accounts, and granting or revoking admin."""

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.ids import uuid7
from tests.factories.accounts import LoggedIn, create_user, login, register_and_login
from tests.factories.api import assert_problem

USERS = "/v1/admin/users"
AUDIT = "/v1/admin/audit-log"


def _error_locs(problem: dict[str, object]) -> list[tuple[object, ...]]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert errors
    return [tuple(error["loc"]) for error in errors]


@pytest.fixture
async def admin(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    user = await create_user(session, email="root@example.com", is_admin=True)
    return await login(client, email=user.email)


@pytest.fixture
async def buyer(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    user = await create_user(session, email="buyer@example.com")
    return await login(client, email=user.email)


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def _list_all(
    client: httpx.AsyncClient, who: LoggedIn, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Follow `next_cursor` to the end; returns every item and the number of pages."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        response = await client.get(USERS, params=query, headers=who.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        pages += 1
        assert pages < 50, "pagination does not terminate"
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert page["items"], "a page with a next_cursor is not empty"


async def _audit_for(
    client: httpx.AsyncClient, admin: LoggedIn, target_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        AUDIT, params={"target_type": "user", "target_id": target_id}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _roles(client: httpx.AsyncClient, who: LoggedIn) -> list[str]:
    response = await client.get("/v1/me", headers=who.headers)
    assert response.status_code == 200, response.text
    roles: list[str] = response.json()["roles"]
    return roles


# --- who may call --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", USERS, None),
        ("PATCH", f"{USERS}/{uuid.uuid4()}", {"is_admin": True}),
        ("GET", AUDIT, None),
    ],
)
async def test_anonymous_caller_is_401(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, path, json=body)

    assert_problem(response, 401, "invalid_token")
    assert response.headers.get("WWW-Authenticate") == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", USERS, None),
        ("GET", f"{USERS}?email=root", None),
        ("GET", AUDIT, None),
    ],
)
async def test_non_admin_is_403_admin_required(
    client: httpx.AsyncClient,
    buyer: LoggedIn,
    admin: LoggedIn,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = await client.request(method, path, json=body, headers=buyer.headers)

    assert_problem(response, 403, "admin_required")
    assert "root@example.com" not in response.text


async def test_non_admin_cannot_grant_themselves_admin(
    client: httpx.AsyncClient, buyer: LoggedIn
) -> None:
    response = await client.patch(
        f"{USERS}/{buyer.user_id}", json={"is_admin": True}, headers=buyer.headers
    )

    assert_problem(response, 403, "admin_required")
    assert await _roles(client, buyer) == ["buyer"]


# --- listing -------------------------------------------------------------------------------------


async def test_admin_pages_through_every_user_once_newest_first(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    created = [admin.user_id]
    for n in range(5):
        user = await register_and_login(client, email=f"user{n}@example.com")
        created.append(user.user_id)

    items, pages = await _list_all(client, admin, limit=2)

    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "a user was listed twice"
    assert ids == list(reversed(created))
    assert pages == 3
    stamps = [datetime.fromisoformat(item["created_at"]) for item in items]
    assert stamps == sorted(stamps, reverse=True)
    for item in items:
        assert set(item) >= {"id", "email", "display_name", "roles", "created_at"}
        assert "password" not in json.dumps(item)


async def test_users_created_in_quick_succession_are_listed_newest_first(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> None:
    """Sign-ups arriving within the same millisecond must still list newest first."""
    created = [uuid.UUID(admin.user_id)]
    for n in range(40):
        created.append((await create_user(session, email=f"burst{n:02d}@example.com")).id)

    items, _pages = await _list_all(client, admin, limit=7)

    assert [item["id"] for item in items] == [str(user_id) for user_id in reversed(created)]


async def test_exact_multiple_of_the_limit_ends_with_a_null_cursor(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    await register_and_login(client, email="second@example.com")

    response = await client.get(USERS, params={"limit": 2}, headers=admin.headers)

    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 2
    assert response.json()["next_cursor"] is None


async def test_default_page_holds_twenty(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> None:
    for n in range(20):
        await create_user(session, email=f"bulk{n:02d}@example.com")

    first = await client.get(USERS, headers=admin.headers)

    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 20
    assert first.json()["next_cursor"] is not None
    rest = await client.get(
        USERS, params={"cursor": first.json()["next_cursor"]}, headers=admin.headers
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None


async def test_cursor_is_stable_while_users_register(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    for n in range(3):
        await register_and_login(client, email=f"early{n}@example.com")
    first = await client.get(USERS, params={"limit": 2}, headers=admin.headers)
    assert first.status_code == 200
    seen = [item["id"] for item in first.json()["items"]]

    late = await register_and_login(client, email="late@example.com")
    rest, _pages = await _list_all(client, admin, limit=2, cursor=first.json()["next_cursor"])

    seen += [item["id"] for item in rest]
    assert len(seen) == len(set(seen)) == 4
    assert late.user_id not in seen
    assert admin.user_id in seen


@pytest.mark.parametrize("prefix", ["alice", "ALICE", "Alice.", "alice."])
async def test_email_prefix_filter(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, prefix: str
) -> None:
    for email in ["alice.one@example.com", "alice.two@example.com", "bob@example.com"]:
        await create_user(session, email=email)
    await create_user(session, email="malice@example.com")

    items, _pages = await _list_all(client, admin, email=prefix, limit=1)

    assert sorted(item["email"] for item in items) == [
        "alice.one@example.com",
        "alice.two@example.com",
    ]


@pytest.mark.parametrize("prefix", ["%", "_", "a_ice", "%alice", "\\"])
async def test_email_prefix_wildcards_are_literal(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, prefix: str
) -> None:
    await create_user(session, email="alice@example.com")

    response = await client.get(USERS, params={"email": prefix}, headers=admin.headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


async def test_q_searches_email_and_display_name_in_any_case(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> None:
    """`q` was silently ignored (the parameter was `email`): every account came back."""
    by_email = await create_user(session, email="grace.hopper@example.com", display_name="GH")
    by_name = await create_user(session, email="admiral@example.net", display_name="Amazing Grace")
    await create_user(session, email="ada@example.com", display_name="Ada Lovelace")

    items, _pages = await _list_all(client, admin, q="GRACE", limit=1)

    assert sorted(item["id"] for item in items) == sorted([str(by_email.id), str(by_name.id)])
    for item in items:
        assert item["shop_id"] is None
        assert item["is_admin"] is False
        assert item["updated_at"]
    assert [i["id"] for i in (await _list_all(client, admin, q="lovelace"))[0]] != []
    # Wildcards are literal, and the deprecated `email` prefix still narrows.
    assert (await _list_all(client, admin, q="gr%ce"))[0] == []
    assert (await _list_all(client, admin, q="grace", email="admiral"))[0] == [
        i for i in items if i["id"] == str(by_name.id)
    ]


@pytest.mark.parametrize("params", [{"search": "grace"}, {"q": ""}, {"q": "a\x00"}])
async def test_an_unknown_or_bad_search_parameter_is_422(
    client: httpx.AsyncClient, admin: LoggedIn, params: dict[str, str]
) -> None:
    response = await client.get(USERS, params=params, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("limit", [0, -1, 101, "many"])
async def test_limit_out_of_range_is_422(
    client: httpx.AsyncClient, admin: LoggedIn, limit: object
) -> None:
    response = await client.get(USERS, params={"limit": limit}, headers=admin.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert any(loc[-1] == "limit" for loc in _error_locs(problem))


async def test_limit_100_is_allowed(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    response = await client.get(USERS, params={"limit": 100}, headers=admin.headers)

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [admin.user_id]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "!!!",
        "%%%",
        _cursor({"u": str(uuid7())}),  # not a list
        _cursor([{"u": "not-a-uuid"}]),
        _cursor([{"u": str(uuid7())}, 1]),  # wrong width
        _cursor([[1]]),
    ],
)
@pytest.mark.parametrize("path", [USERS, AUDIT])
async def test_malformed_cursor_is_422_invalid_cursor(
    client: httpx.AsyncClient, admin: LoggedIn, path: str, cursor: str
) -> None:
    response = await client.get(path, params={"cursor": cursor}, headers=admin.headers)

    assert_problem(response, 422, "invalid_cursor")


def _corrupt(cursor: str, value: Any) -> str:
    """The same cursor with its last key replaced by `value`: still base64 JSON of the right
    length, so it gets past the format checks and reaches the query."""
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert isinstance(decoded, list), decoded
    decoded[-1] = value
    return _cursor(decoded)


@pytest.mark.parametrize(
    "value",
    ["abc", 1, 1.5, None, True, {"t": "2020-01-01T00:00:00+00:00"}, {"u": "not-a-uuid"}],
)
@pytest.mark.parametrize("path", [USERS, AUDIT])
async def test_cursor_with_a_key_of_the_wrong_type_is_422_invalid_cursor(
    client: httpx.AsyncClient, admin: LoggedIn, buyer: LoggedIn, path: str, value: Any
) -> None:
    """A client that fabricates or corrupts a cursor gets 422, never a 500 or a wrong page."""
    # Two audit entries, so that the audit log has a second page as well.
    for is_admin in (True, False):
        changed = await client.patch(
            f"{USERS}/{buyer.user_id}", json={"is_admin": is_admin}, headers=admin.headers
        )
        assert changed.status_code == 200, changed.text
    first = await client.get(path, params={"limit": 1}, headers=admin.headers)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    assert cursor is not None

    response = await client.get(
        path, params={"limit": 1, "cursor": _corrupt(cursor, value)}, headers=admin.headers
    )

    assert_problem(response, 422, "invalid_cursor")


async def test_overlong_cursor_is_422(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    response = await client.get(USERS, params={"cursor": "a" * 513}, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


# --- granting and revoking admin -----------------------------------------------------------------


async def test_admin_grants_admin_and_it_is_audited(
    client: httpx.AsyncClient, admin: LoggedIn, buyer: LoggedIn
) -> None:
    response = await client.patch(
        f"{USERS}/{buyer.user_id}",
        json={"is_admin": True, "reason": "joins the trust & safety team"},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["id"] == buyer.user_id
    assert "admin" in response.json()["roles"]
    # A role change ends the grantee's sessions at once; the role comes with a new one.
    assert_problem(await client.get("/v1/me", headers=buyer.headers), 401, "invalid_token")
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": buyer.refresh_token})
    assert_problem(refreshed, 401, "invalid_token")
    grantee = await login(client, email=buyer.email)
    assert "admin" in await _roles(client, grantee)
    listed = await client.get(USERS, headers=grantee.headers)
    assert listed.status_code == 200, listed.text
    # The granting admin's own session is untouched.
    assert (await client.get("/v1/me", headers=admin.headers)).status_code == 200

    entries = await _audit_for(client, admin, buyer.user_id)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["action"] == "user.admin_granted"
    assert entry["actor_id"] == admin.user_id
    assert entry["target_type"] == "user"
    assert entry["target_id"] == buyer.user_id
    assert entry["reason"] == "joins the trust & safety team"
    datetime.fromisoformat(entry["created_at"])


async def test_admin_revokes_admin_and_it_is_audited(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> None:
    other_admin = await login(client, email=(await create_user(session, is_admin=True)).email)

    response = await client.patch(
        f"{USERS}/{other_admin.user_id}",
        json={"is_admin": False, "reason": "left the company"},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    assert "admin" not in response.json()["roles"]
    # Issue 13: the revoked admin's open session (perhaps a thief's) ends at once.
    for path in ("/v1/me", USERS):
        assert_problem(await client.get(path, headers=other_admin.headers), 401, "invalid_token")
    again = await login(client, email=other_admin.email)
    assert await _roles(client, again) == ["buyer"]
    assert_problem(await client.get(USERS, headers=again.headers), 403, "admin_required")
    [entry] = await _audit_for(client, admin, other_admin.user_id)
    assert entry["action"] == "user.admin_revoked"
    assert entry["actor_id"] == admin.user_id
    assert entry["reason"] == "left the company"


@pytest.mark.parametrize("flag", [0, "no", "false", "0", ""])
async def test_only_false_revokes_admin(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, flag: object
) -> None:
    """Found by the fuzzer: 0, "no" and "false" revoked admin."""
    other_admin = await login(client, email=(await create_user(session, is_admin=True)).email)

    response = await client.patch(
        f"{USERS}/{other_admin.user_id}", json={"is_admin": flag}, headers=admin.headers
    )

    assert_problem(response, 422, "validation_error")
    assert await _roles(client, other_admin) == ["buyer", "admin"]
    assert await _audit_for(client, admin, other_admin.user_id) == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (USERS, {"email": "root\x00"}),
        (AUDIT, {"target_type": "user\x00"}),
        (AUDIT, {"target_id": "\x00"}),
    ],
)
async def test_nul_in_a_query_string_is_422_not_a_database_error(
    client: httpx.AsyncClient, admin: LoggedIn, path: str, params: dict[str, str]
) -> None:
    """PostgreSQL cannot compare text holding NUL: it was a 500 there."""
    response = await client.get(path, params=params, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


async def test_granting_admin_twice_is_idempotent_and_audited_once(
    client: httpx.AsyncClient, admin: LoggedIn, buyer: LoggedIn
) -> None:
    for _ in range(2):
        response = await client.patch(
            f"{USERS}/{buyer.user_id}", json={"is_admin": True}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["roles"].count("admin") == 1
        # Sessions opened after the grant outlive a repeated grant: no role changed.
        buyer = await login(client, email=buyer.email)

    assert (await client.get("/v1/me", headers=buyer.headers)).status_code == 200
    entries = await _audit_for(client, admin, buyer.user_id)
    assert [entry["action"] for entry in entries] == ["user.admin_granted"]
    assert entries[0]["reason"] is None


async def test_admin_cannot_revoke_their_own_admin_role(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    response = await client.patch(
        f"{USERS}/{admin.user_id}",
        json={"is_admin": False, "reason": "oops"},
        headers=admin.headers,
    )

    assert_problem(response, 409, "cannot_change_own_admin_role")
    assert "admin" in await _roles(client, admin)
    assert await _audit_for(client, admin, admin.user_id) == []


async def test_unknown_user_is_404(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    response = await client.patch(
        f"{USERS}/{uuid7()}", json={"is_admin": True, "reason": "x"}, headers=admin.headers
    )

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("user_id", ["not-a-uuid", "123", "01900000-0000-7000-8000-00000000000"])
async def test_malformed_user_id_is_422(
    client: httpx.AsyncClient, admin: LoggedIn, user_id: str
) -> None:
    response = await client.patch(
        f"{USERS}/{user_id}", json={"is_admin": True}, headers=admin.headers
    )

    problem = assert_problem(response, 422, "validation_error")
    assert ("path", "user_id") in _error_locs(problem)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": "no flag"},
        {"is_admin": "maybe"},
        # Found by the fuzzer: these granted admin. The schema says boolean, and means it.
        {"is_admin": 1},
        {"is_admin": "true"},
        {"is_admin": "yes"},
        {"is_admin": None},
        {"is_admin": True, "is_seller": True},
        {"is_admin": True, "reason": "x" * 1001},
        {"is_admin": True, "reason": "nul\x00byte"},
    ],
)
async def test_invalid_admin_update_body_is_422_and_changes_nothing(
    client: httpx.AsyncClient, admin: LoggedIn, buyer: LoggedIn, body: dict[str, Any]
) -> None:
    response = await client.patch(f"{USERS}/{buyer.user_id}", json=body, headers=admin.headers)

    assert_problem(response, 422, "validation_error")
    assert await _roles(client, buyer) == ["buyer"]
    assert await _audit_for(client, admin, buyer.user_id) == []
