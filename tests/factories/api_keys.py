"""Seller API keys: created with the owner's password, presented as bearer tokens."""

import httpx

from app.auth.scopes import ApiKeyScope
from tests.factories.accounts import DEFAULT_PASSWORD, LoggedIn
from tests.factories.api import Json, json_ok

API_KEYS = "/v1/me/api-keys"
ALL_SCOPES = sorted(scope.value for scope in ApiKeyScope)
NOT_FOR_KEYS = "this operation is not available to API keys"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def with_key(*, owner: LoggedIn, key: str) -> LoggedIn:
    """The owner's identity presenting `key` as its bearer token, so every HTTP builder can be
    called with a key instead of an access token."""
    return LoggedIn(user_id=owner.user_id, email=owner.email, access_token=key, refresh_token="")


async def post_key(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    body: Json,
    password: str | None = DEFAULT_PASSWORD,
) -> httpx.Response:
    """POST `body` with the owner's `password` added (None: sent as it is)."""
    if password is not None:
        body = {"password": password, **body}
    return await client.post(API_KEYS, json=body, headers=who.headers)


async def create_key(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    scopes: list[str],
    name: str = "warehouse sync",
    expires_at: str | None = None,
) -> Json:
    """A new key of `who`: the 201 body, which alone holds the plain `key`."""
    body: Json = {"name": name, "scopes": scopes}
    if expires_at is not None:
        body["expires_at"] = expires_at
    created: Json = json_ok(await post_key(client, who=who, body=body), 201)
    return created


async def integration_of(
    client: httpx.AsyncClient, *, owner: LoggedIn, scopes: list[str]
) -> LoggedIn:
    """The owner presenting a new key with `scopes` (see `with_key`)."""
    created = await create_key(client, who=owner, scopes=scopes)
    return with_key(owner=owner, key=created["key"])
