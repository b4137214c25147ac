"""Who is calling: `CurrentUser` for any signed-in user (by access token or API key),
`AdminUser` for admins; and `PasswordAttemptsDep`, the lockout's record of password checks."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth import api_keys, service
from app.auth.exceptions import AdminRequired, InvalidToken
from app.auth.lockout import PasswordAttempts
from app.auth.models import User
from app.auth.principal import acts_as_admin
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
) -> User:
    """An access token, or an API key within the scope the matched route needs."""
    if api_keys.is_api_key(token):
        tags = getattr(request.scope.get("route"), "tags", None) or []
        required = required_scope([str(tag) for tag in tags], request.method)
        user, scopes = await api_keys.authenticate(session, token, required)
        set_api_key_scopes(scopes)
        return user
    return await service.authenticate(session, settings, token)


async def get_current_user(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        raise InvalidToken("missing bearer token")
    return await _authenticate(request, session, settings, token)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_optional_user(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User | None:
    """The caller if a token is sent (a bad token is still a 401), else anonymous."""
    if not token:
        return None
    return await _authenticate(request, session, settings, token)


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if not acts_as_admin(user):
        raise AdminRequired()
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]
