"""/v1/admin/users: accounts, and granting or revoking the admin role."""

import uuid
from typing import Annotated

from fastapi import Query

from app.auth import service, views
from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.auth.exceptions import CannotChangeOwnAdminRole
from app.auth.schemas import UserAdminRead, UserAdminUpdate
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.schemas import NO_NUL_PATTERN, Page, page_of

router = admin_api_router("/users")


@router.get("", response_model=Page[UserAdminRead], responses=error_responses(InvalidCursor))
async def list_users(
    _admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=320,
            pattern=NO_NUL_PATTERN,
            description="Text the email or the display name contains (any case)",
        ),
    ] = None,
    email: Annotated[
        str | None,
        Query(
            max_length=320,
            pattern=NO_NUL_PATTERN,
            description="Deprecated: an email prefix; use `q`",
            deprecated=True,
        ),
    ] = None,
) -> Page[UserAdminRead]:
    """Accounts, newest first: those whose email or display name contains `q`, if given
    (and, deprecated, whose email starts with `email`). Unknown parameters answer 422."""
    users, next_cursor = await service.list_users(session, page, email_prefix=email, text=q)
    return page_of(users, next_cursor, views.user_admin_read)


@router.patch(
    "/{user_id}",
    response_model=UserAdminRead,
    responses=error_responses(NotFound, CannotChangeOwnAdminRole),
)
async def update_user(
    user_id: uuid.UUID, body: UserAdminUpdate, admin: AdminPrincipal, session: DbSession
) -> UserAdminRead:
    """Grant or revoke the admin role (audited). A change ends every session of the user at
    once (their access tokens answer 401); they log in again with the new role."""
    return views.user_admin_read(await service.set_admin_role(session, admin, user_id, body))
