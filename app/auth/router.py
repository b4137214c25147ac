import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import service
from app.auth.dependencies import AdminUser, AppSettings, CurrentUser
from app.auth.exceptions import (
    AdminRequired,
    CannotChangeOwnAdminRole,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    TooManyLoginAttempts,
    WrongPassword,
)
from app.auth.schemas import (
    RefreshRequest,
    TokenPair,
    UserAdminUpdate,
    UserRead,
    UserRegister,
    UserUpdate,
)
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
me_router = APIRouter(
    prefix=f"{API_PREFIX}/me", tags=["me"], responses=error_responses(InvalidToken)
)
admin_router = APIRouter(
    prefix=f"{API_PREFIX}/admin/users",
    tags=["admin"],
    responses=error_responses(InvalidToken, AdminRequired),
)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(EmailTaken, IdempotencyKeyReused),
)
async def register(
    body: UserRegister, session: DbSession, idempotency: IdempotencyDep
) -> UserRead | JSONResponse:
    """Create an account. Every account can buy; selling needs an approved seller profile."""
    return await idempotency.run(
        scope="anonymous",
        status_code=status.HTTP_201_CREATED,
        response_model=UserRead,
        produce=lambda: service.register(session, body),
    )


@router.post(
    "/token",
    response_model=TokenPair,
    responses=error_responses(InvalidCredentials, TooManyLoginAttempts),
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    settings: AppSettings,
) -> TokenPair:
    """Log in with the OAuth2 password form (`username` is the email).

    Answers the same 401 for an unknown email and a wrong password; after too many failures
    for one email it answers 429 with `Retry-After`.
    """
    return await service.login(session, settings, email=form.username, password=form.password)


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=error_responses(InvalidToken, RefreshTokenReused),
)
async def refresh(body: RefreshRequest, session: DbSession, settings: AppSettings) -> TokenPair:
    """Exchange a refresh token for a new pair. The old one is spent: presenting it again
    revokes the whole session (every token descended from the same login)."""
    return await service.refresh(session, settings, body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(InvalidToken),
)
async def logout(body: RefreshRequest, session: DbSession, settings: AppSettings) -> Response:
    """Revoke the session the refresh token belongs to. Access tokens expire on their own."""
    await service.logout(session, settings, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get("", response_model=UserRead)
async def get_me(user: CurrentUser) -> UserRead:
    """The caller, with roles."""
    return UserRead.model_validate(user)


@me_router.patch(
    "",
    response_model=UserRead,
    responses=error_responses(EmailTaken, WrongPassword),
)
async def update_me(body: UserUpdate, user: CurrentUser, session: DbSession) -> UserRead:
    """Change display name, email or password (the last two need `current_password`).
    A new password ends every open session."""
    return UserRead.model_validate(await service.update_me(session, user, body))


@admin_router.get("", response_model=Page[UserRead], responses=error_responses(InvalidCursor))
async def list_users(
    _admin: AdminUser,
    session: DbSession,
    page: PageQuery,
    email: Annotated[str | None, Query(max_length=320, description="Email prefix")] = None,
) -> Page[UserRead]:
    """Accounts, newest first, optionally filtered by email prefix."""
    rows, next_cursor = await service.list_users(session, page, email_prefix=email)
    return Page(items=[UserRead.model_validate(u) for u in rows], next_cursor=next_cursor)


@admin_router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses=error_responses(NotFound, CannotChangeOwnAdminRole),
)
async def update_user(
    user_id: uuid.UUID, body: UserAdminUpdate, admin: AdminUser, session: DbSession
) -> UserRead:
    """Grant or revoke the admin role (audited)."""
    return UserRead.model_validate(await service.set_admin_role(session, admin, user_id, body))
