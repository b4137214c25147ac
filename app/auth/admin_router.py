"""/v1/admin/users: accounts, and granting or revoking the admin role."""

import uuid
from typing import Annotated

from fastapi import Query

from app.auth import service, views
from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.auth.exceptions import CannotChangeOwnAdminRole
from app.auth.schemas import UserAdminUpdate, UserRead
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.schemas import NO_NUL_PATTERN, Page, page_of

router = admin_api_router("/users")


@router.get("", response_model=Page[UserRead], responses=error_responses(InvalidCursor))
async def list_users(
    _admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    email: Annotated[
        str | None, Query(max_length=320, pattern=NO_NUL_PATTERN, description="Email prefix")
    ] = None,
) -> Page[UserRead]:
    """Accounts, newest first, optionally filtered by email prefix."""
    return page_of(*await service.list_users(session, page, email_prefix=email), views.user_read)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses=error_responses(NotFound, CannotChangeOwnAdminRole),
)
async def update_user(
    user_id: uuid.UUID, body: UserAdminUpdate, admin: AdminPrincipal, session: DbSession
) -> UserRead:
    """Grant or revoke the admin role (audited). A change ends every session of the user at
    once (their access tokens answer 401); they log in again with the new role."""
    return views.user_read(await service.set_admin_role(session, admin, user_id, body))
