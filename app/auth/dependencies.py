"""Who is calling: `CurrentUser` for any signed-in user (by access token or API key),
`AdminUser` for admins; and `PasswordAttemptsDep`, the lockout's record of password checks."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth import api_keys, service
from app.auth.exceptions import AdminRequired, InvalidToken
from app.auth.lockout import PasswordAttempts
from app.auth.models import User
from app.auth.principal import Principal
from app.auth.scopes import required_scope
from app.config import Settings
from app.core.db import Database, DbSession
from app.core.request_context import set_api_key_scopes

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
        set_api_key_scopes(scopes)
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


# --- transitional: the pieces the principal replaces, until every handler takes it -------


async def get_current_user(principal: CurrentPrincipal) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_optional_user(principal: OptionalPrincipal) -> User | None:
    return principal.user if principal is not None else None


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def get_admin_user(principal: AdminPrincipal) -> User:
    return principal.user


AdminUser = Annotated[User, Depends(get_admin_user)]
