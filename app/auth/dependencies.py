"""Who is calling, decided once per request: `CurrentPrincipal` for any signed-in caller (a
person by access token, or a shop's API key), `EnrollingPrincipal` for the few routes an admin
still without a required second factor may use, `OptionalPrincipal` where signing in is
optional, `AdminPrincipal` for admins (and `admin_api_router`, the router every domain's admin
routes hang on); the API key guard; and `PasswordAttemptsDep`, the lockout's record of
password checks."""

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth import api_keys, email_verification, service
from app.auth.exceptions import AdminRequired, InvalidToken
from app.auth.lockout import PasswordAttempts
from app.auth.models import ApiKey
from app.auth.principal import Principal
from app.auth.schemas import PasswordLoginForm
from app.auth.scopes import required_scope
from app.auth.totp.exceptions import SecondFactorRequired
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


def _second_factor_checked(settings: Settings, principal: Principal) -> Principal:
    """Where admins must have a second factor, one without it may do nothing but enrol."""
    if settings.admin_totp_required and principal.is_admin and not principal.user.totp_enabled:
        raise SecondFactorRequired()
    return principal


async def get_enrolling_principal(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise InvalidToken("missing bearer token")
    return await _authenticate(request, session, settings, token)


EnrollingPrincipal = Annotated[Principal, Depends(get_enrolling_principal)]
"""Any signed-in caller, an admin who still has to enrol a required second factor included:
only for `GET /v1/me` and enrolling one."""


async def get_principal(principal: EnrollingPrincipal, settings: AppSettings) -> Principal:
    return _second_factor_checked(settings, principal)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
"""Any signed-in caller: a person by access token, or a shop's API key (403
`second_factor_required` to an admin without the second factor that admins must have)."""


async def get_optional_principal(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal | None:
    """The caller if a token is sent (a bad token is still a 401), else anonymous."""
    if not token:
        return None
    return _second_factor_checked(settings, await _authenticate(request, session, settings, token))


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_admin_principal(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise AdminRequired()
    return principal


AdminPrincipal = Annotated[Principal, Depends(get_admin_principal)]


def admin_api_router(path: str = "") -> APIRouter:
    """The router of a domain's admin routes, under `/v1/admin{path}`, tagged `admin`; each of
    its handlers takes `AdminPrincipal`, so every route answers 401 without a valid token,
    403 `admin_required` to anyone else and 403 `second_factor_required` to an admin without
    a required second factor, as the router's `responses` document."""
    return APIRouter(
        prefix=f"{API_PREFIX}/admin{path}",
        tags=["admin"],
        responses=error_responses(InvalidToken, AdminRequired, SecondFactorRequired),
    )


async def guard_api_key(
    key_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> ApiKey:
    return await api_keys.get_own(session, principal, key_id, lock=writes(request))


ApiKeyGuard = Annotated[ApiKey, Depends(guard_api_key)]
"""One of the caller's own API keys (another user's: 404, decided in SQL); its only role is
its owner's."""


async def get_verified_principal(principal: CurrentPrincipal, settings: AppSettings) -> Principal:
    email_verification.require_verified(settings, principal)
    return principal


VerifiedPrincipal = Annotated[Principal, Depends(get_verified_principal)]
"""A signed-in caller whose address is verified where `MARKETPLACE_REQUIRE_VERIFIED_EMAIL`
asks it (paying, applying to sell, creating API keys); else 403 `email_not_verified`."""


def _basic_client_secret(authorization: str | None) -> str | None:
    """The secret of an `Authorization: Basic base64(client_id:client_secret)` header."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


async def get_login_second_factor(
    request: Request, form: Annotated[PasswordLoginForm, Depends()]
) -> str | None:
    """A login's second-factor code: the form's `client_secret`, or the secret of HTTP Basic
    client authentication, which is where Swagger UI's password flow puts `client_secret`
    by default ("Client credentials location: Authorization header")."""
    return form.client_secret or _basic_client_secret(request.headers.get("authorization"))


LoginSecondFactor = Annotated[str | None, Depends(get_login_second_factor)]
