"""Who is calling, decided once per request: `CurrentPrincipal` for any signed-in caller (a
person by access token, or a shop's API key), `OptionalPrincipal` where signing in is
optional, `AdminPrincipal` for admins (and `admin_api_router`, the router every domain's admin
routes hang on); the API key guard; and `PasswordAttemptsDep`, the lockout's record of
password checks."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth import api_keys, service
from app.auth.exceptions import AdminRequired, InvalidToken
from app.auth.lockout import PasswordAttempts
from app.auth.models import ApiKey
from app.auth.principal import Principal
from app.auth.scopes import required_scope
from app.config import Settings
from app.core.db import Database, DbSession
from app.core.errors import error_responses
from app.core.guards import writes
from app.core.routing import API_PREFIX

# Wires Swagger's "Authorize" button to the password flow.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


async def get_password_attempts(request: Request, settings: AppSettings) -> PasswordAttempts:
    """The lockout's record, with the app's database for a login's attempt, which commits in
    a transaction of its own (see `app.auth.lockout`)."""
    database: Database = request.app.state.database
    return PasswordAttempts(settings, database.session_scope)


PasswordAttemptsDep = Annotated[PasswordAttempts, Depends(get_password_attempts)]


async def _authenticate(
    request: Request, session: DbSession, settings: AppSettings, token: str
) -> Principal:
    """An access token, or an API key within the scope the matched route needs."""
    if api_keys.is_api_key(token):
        tags = getattr(request.scope.get("route"), "tags", None) or []
        required = required_scope([str(tag) for tag in tags], request.method)
        user, scopes = await api_keys.authenticate(session, token, required)
        return Principal(user, key_scopes=scopes)
    return Principal(await service.authenticate(session, settings, token))


async def get_principal(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise InvalidToken("missing bearer token")
    return await _authenticate(request, session, settings, token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
"""Any signed-in caller: a person by access token, or a shop's API key."""


async def get_optional_principal(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal | None:
    """The caller if a token is sent (a bad token is still a 401), else anonymous."""
    if not token:
        return None
    return await _authenticate(request, session, settings, token)


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_admin_principal(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise AdminRequired()
    return principal


AdminPrincipal = Annotated[Principal, Depends(get_admin_principal)]


def admin_api_router(path: str = "") -> APIRouter:
    """The router of a domain's admin routes, under `/v1/admin{path}`, tagged `admin`; each of
    its handlers takes `AdminPrincipal`, so every route answers 401 without a valid token and
    403 `admin_required` to anyone else, as the router's `responses` document."""
    return APIRouter(
        prefix=f"{API_PREFIX}/admin{path}",
        tags=["admin"],
        responses=error_responses(InvalidToken, AdminRequired),
    )


async def guard_api_key(
    key_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> ApiKey:
    return await api_keys.get_own(session, principal, key_id, lock=writes(request))


ApiKeyGuard = Annotated[ApiKey, Depends(guard_api_key)]
"""One of the caller's own API keys (another user's: 404, decided in SQL); its only role is
its owner's."""
