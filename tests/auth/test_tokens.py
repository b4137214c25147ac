"""Access and refresh tokens: what the API refuses, and that it refuses it with 401; and
sessions, which end their access tokens at once.

Forged tokens are built with python-jose and the test settings' secret; a positive control
(`test_forged_token_with_every_claim_right_is_accepted`) proves the forging helper makes
tokens the API accepts, so each refusal below is caused by the one thing that was changed.
"""

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from jose import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock, now
from app.core.ids import uuid7
from tests.factories.accounts import LoggedIn, create_user, login
from tests.factories.api import assert_problem

REFRESH = "/v1/auth/refresh"
LOGOUT = "/v1/auth/logout"
PROTECTED = [
    ("GET", "/v1/me"),
    ("PATCH", "/v1/me"),
    ("GET", "/v1/admin/users"),
    ("GET", "/v1/admin/audit-log"),
]


def _error_locs(problem: dict[str, object]) -> list[tuple[object, ...]]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert errors
    return [tuple(error["loc"]) for error in errors]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _session_of(who: LoggedIn) -> str:
    """The session (`sid`) a real access token of `who` names."""
    sid: str = jwt.get_unverified_claims(who.access_token)["sid"]
    return sid


def _claims(
    subject: str, token_type: str = "access", *, sid: str | None = None, **overrides: Any
) -> dict[str, Any]:
    issued = now()
    claims: dict[str, Any] = {
        "sub": subject,
        "type": token_type,
        "jti": str(uuid7()),
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=15)).timestamp()),
        "sid": sid,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], secret: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _secret(settings: Settings) -> str:
    return settings.jwt_secret.get_secret_value()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_invalid_token(response: httpx.Response) -> None:
    assert_problem(response, 401, "invalid_token")
    assert response.headers.get("WWW-Authenticate") == "Bearer"


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/me", headers=_bearer(token))


@pytest.fixture
async def ada(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    user = await create_user(session, email="ada@example.com")
    return await login(client, email=user.email)


# --- no token, or not a bearer token -------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_no_token_is_401_with_www_authenticate(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)

    _assert_invalid_token(response)


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic YWRhOnNlY3JldA==", "Token abc.def.ghi", "bearer-ish xyz"],
)
async def test_missing_or_non_bearer_authorization_is_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/v1/me", headers={"Authorization": authorization})

    _assert_invalid_token(response)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "...",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9.e30",
        "not base64!.not base64!.not base64!",
        "x" * 2000,
    ],
)
async def test_garbage_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    _assert_invalid_token(await _me(client, token))


# --- signatures and algorithms -------------------------------------------------------------------


async def test_valid_access_token_is_accepted(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    response = await _me(client, ada.access_token)

    assert response.status_code == 200
    assert response.json()["id"] == ada.user_id


async def test_forged_token_with_every_claim_right_is_accepted(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn
) -> None:
    token = _sign(_claims(ada.user_id, sid=_session_of(ada)), _secret(settings))

    response = await _me(client, token)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == ada.user_id


async def test_tampered_signature_is_401(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    header, payload, signature = ada.access_token.split(".")
    # Flip a character in the middle: the last one may only carry base64 padding bits.
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    assert tampered != ada.access_token

    _assert_invalid_token(await _me(client, tampered))


async def test_signature_stripped_is_401(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    header, payload, _signature = ada.access_token.split(".")

    _assert_invalid_token(await _me(client, f"{header}.{payload}."))


async def test_tampered_payload_cannot_impersonate_another_user(
    client: httpx.AsyncClient, session: AsyncSession, ada: LoggedIn
) -> None:
    victim = await create_user(session, email="victim@example.com", is_admin=True)
    header, payload, signature = ada.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(victim.id)
    forged = f"{header}.{_b64url_json(claims)}.{signature}"

    _assert_invalid_token(await _me(client, forged))
    _assert_invalid_token(await client.get("/v1/admin/users", headers=_bearer(forged)))


async def test_token_signed_with_another_secret_is_401(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    token = _sign(
        _claims(ada.user_id, sid=_session_of(ada)), "some-other-secret-of-sufficient-length-123"
    )

    _assert_invalid_token(await _me(client, token))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("keep_signature", [False, True])
async def test_alg_none_token_is_401(
    client: httpx.AsyncClient, ada: LoggedIn, alg: str, keep_signature: bool
) -> None:
    header = _b64url_json({"alg": alg, "typ": "JWT"})
    payload = _b64url_json(_claims(ada.user_id, sid=_session_of(ada)))
    signature = ada.access_token.split(".")[2] if keep_signature else ""

    _assert_invalid_token(await _me(client, f"{header}.{payload}.{signature}"))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_token_with_another_algorithm_is_401_even_with_the_right_secret(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn, algorithm: str
) -> None:
    token = _sign(
        _claims(ada.user_id, sid=_session_of(ada)), _secret(settings), algorithm=algorithm
    )

    _assert_invalid_token(await _me(client, token))


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["jti", "sub", "exp", "iat", "type", "sid"])
async def test_token_missing_a_required_claim_is_401(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn, missing: str
) -> None:
    """Without `sid` among them: access tokens issued before sessions were tracked are
    refused, and their clients refresh or log in again."""
    claims = _claims(ada.user_id, sid=_session_of(ada))
    del claims[missing]

    _assert_invalid_token(await _me(client, _sign(claims, _secret(settings))))


@pytest.mark.parametrize(
    "overrides",
    [
        {"jti": "not-a-uuid"},
        {"sub": "not-a-uuid"},
        {"sub": 12345},
        {"type": "id"},
        {"type": "ACCESS"},
        {"exp": "tomorrow"},
        {"iat": "yesterday"},
        {"sid": "not-a-uuid"},
        {"sid": 12345},
    ],
)
async def test_token_with_malformed_claims_is_401(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn, overrides: dict[str, Any]
) -> None:
    claims = {**_claims(ada.user_id, sid=_session_of(ada)), **overrides}
    token = _sign(claims, _secret(settings))

    _assert_invalid_token(await _me(client, token))


async def test_token_for_a_user_that_does_not_exist_is_401(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn
) -> None:
    token = _sign(_claims(str(uuid7()), sid=_session_of(ada)), _secret(settings))

    _assert_invalid_token(await _me(client, token))


async def test_token_naming_a_session_that_does_not_exist_is_401(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn
) -> None:
    token = _sign(_claims(ada.user_id, sid=str(uuid7())), _secret(settings))

    _assert_invalid_token(await _me(client, token))


async def test_token_naming_another_users_session_is_401(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, ada: LoggedIn
) -> None:
    """A session is its user's: a token for ada cannot ride grace's live session."""
    grace = await login(client, email=(await create_user(session, email="grace@example.com")).email)

    token = _sign(_claims(ada.user_id, sid=_session_of(grace)), _secret(settings))

    _assert_invalid_token(await _me(client, token))


async def test_token_with_exp_in_the_past_is_401(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn
) -> None:
    past = int((now() - timedelta(seconds=5)).timestamp())
    token = _sign(_claims(ada.user_id, sid=_session_of(ada), exp=past), _secret(settings))

    _assert_invalid_token(await _me(client, token))


# --- expiry --------------------------------------------------------------------------------------


async def test_access_token_works_until_it_expires(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    clock.advance(timedelta(minutes=14))
    assert (await _me(client, ada.access_token)).status_code == 200

    clock.advance(timedelta(minutes=2))
    _assert_invalid_token(await _me(client, ada.access_token))


async def test_refresh_after_access_expiry_gives_a_working_access_token(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    clock.advance(timedelta(minutes=16))
    _assert_invalid_token(await _me(client, ada.access_token))

    response = await client.post(REFRESH, json={"refresh_token": ada.refresh_token})

    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert pair["refresh_expires_in"] == 30 * 24 * 3600
    assert pair["refresh_token"] != ada.refresh_token
    me = await _me(client, pair["access_token"])
    assert me.status_code == 200
    assert me.json()["id"] == ada.user_id


async def test_refresh_token_works_until_its_ttl(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    clock.advance(timedelta(days=29))

    response = await client.post(REFRESH, json={"refresh_token": ada.refresh_token})

    assert response.status_code == 200, response.text


async def test_refresh_token_after_its_ttl_is_401(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    clock.advance(timedelta(days=31))

    _assert_invalid_token(await client.post(REFRESH, json={"refresh_token": ada.refresh_token}))


# --- token types ---------------------------------------------------------------------------------


async def test_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    _assert_invalid_token(await _me(client, ada.refresh_token))


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
async def test_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, ada: LoggedIn, path: str
) -> None:
    _assert_invalid_token(await client.post(path, json={"refresh_token": ada.access_token}))
    # The refused request had no effect on the real session.
    assert (
        await client.post(REFRESH, json={"refresh_token": ada.refresh_token})
    ).status_code == 200


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
async def test_refresh_token_that_was_never_issued_is_401(
    client: httpx.AsyncClient, settings: Settings, ada: LoggedIn, path: str
) -> None:
    """Correctly signed, correct type, but its jti is not a stored refresh token."""
    claims = _claims(ada.user_id, token_type="refresh", fam=str(uuid7()))
    claims["exp"] = int((now() + timedelta(days=30)).timestamp())

    _assert_invalid_token(
        await client.post(path, json={"refresh_token": _sign(claims, _secret(settings))})
    )


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
async def test_garbage_refresh_token_is_401(
    client: httpx.AsyncClient, path: str, token: str
) -> None:
    _assert_invalid_token(await client.post(path, json={"refresh_token": token}))


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": None}, {"refresh_token": 5}],
)
async def test_malformed_refresh_body_is_422(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    problem = assert_problem(await client.post(path, json=body), 422, "validation_error")
    assert any(loc[-1] == "refresh_token" for loc in _error_locs(problem))


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
async def test_extra_field_in_refresh_body_is_422(
    client: httpx.AsyncClient, ada: LoggedIn, path: str
) -> None:
    response = await client.post(
        path, json={"refresh_token": ada.refresh_token, "user_id": str(uuid.uuid4())}
    )

    assert_problem(response, 422, "validation_error")
    # Nothing was spent or revoked by the refused request.
    assert (
        await client.post(REFRESH, json={"refresh_token": ada.refresh_token})
    ).status_code == 200


# --- rotation and logout -------------------------------------------------------------------------


async def test_rotated_pair_keeps_rotating(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    token = ada.refresh_token
    seen = {token}
    for _ in range(3):
        response = await client.post(REFRESH, json={"refresh_token": token})
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
        assert token not in seen
        seen.add(token)
        assert (await _me(client, response.json()["access_token"])).status_code == 200


async def test_logout_ends_the_sessions_access_token_at_once(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    """Issue 13: after logout (204) the session's access token still read `/v1/me` (200)
    until it expired."""
    assert (await _me(client, ada.access_token)).status_code == 200

    assert (await client.post(LOGOUT, json={"refresh_token": ada.refresh_token})).status_code == 204

    _assert_invalid_token(await _me(client, ada.access_token))
    _assert_invalid_token(await client.get("/v1/me/export", headers=_bearer(ada.access_token)))


async def test_logout_ends_the_access_tokens_rotated_in_the_session(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    rotated = (await client.post(REFRESH, json={"refresh_token": ada.refresh_token})).json()
    assert (await _me(client, rotated["access_token"])).status_code == 200

    logout = await client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]})

    assert logout.status_code == 204
    for token in (ada.access_token, rotated["access_token"]):
        _assert_invalid_token(await _me(client, token))


async def test_logout_leaves_the_access_tokens_of_other_sessions_alone(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    other_device = await login(client, email=ada.email)

    assert (await client.post(LOGOUT, json={"refresh_token": ada.refresh_token})).status_code == 204

    assert (await _me(client, other_device.access_token)).status_code == 200


async def test_refresh_token_reuse_ends_the_sessions_access_tokens_too(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    """Reuse means a refresh token leaked: whoever holds the session's newer tokens, access
    tokens included, is out."""
    rotated = (await client.post(REFRESH, json={"refresh_token": ada.refresh_token})).json()

    reused = await client.post(REFRESH, json={"refresh_token": ada.refresh_token})

    assert_problem(reused, 401, "refresh_token_reused")
    _assert_invalid_token(await _me(client, rotated["access_token"]))


async def test_logout_twice_is_fine_and_ends_the_session(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    first = await client.post(LOGOUT, json={"refresh_token": ada.refresh_token})
    second = await client.post(LOGOUT, json={"refresh_token": ada.refresh_token})

    assert first.status_code == 204, first.text
    assert second.status_code == 204, second.text
    assert first.content == second.content == b""
    _assert_invalid_token(await client.post(REFRESH, json={"refresh_token": ada.refresh_token}))


async def test_logout_ends_the_tokens_rotated_from_the_same_login(
    client: httpx.AsyncClient, ada: LoggedIn
) -> None:
    rotated = await client.post(REFRESH, json={"refresh_token": ada.refresh_token})
    newest = rotated.json()["refresh_token"]

    assert (await client.post(LOGOUT, json={"refresh_token": newest})).status_code == 204

    _assert_invalid_token(await client.post(REFRESH, json={"refresh_token": newest}))


async def test_logout_leaves_other_sessions_alone(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    other_device = await login(client, email=ada.email)

    assert (await client.post(LOGOUT, json={"refresh_token": ada.refresh_token})).status_code == 204

    response = await client.post(REFRESH, json={"refresh_token": other_device.refresh_token})
    assert response.status_code == 200, response.text


async def test_logout_after_refresh_ttl_is_401(client: httpx.AsyncClient, ada: LoggedIn) -> None:
    clock.advance(timedelta(days=31))

    _assert_invalid_token(await client.post(LOGOUT, json={"refresh_token": ada.refresh_token}))
