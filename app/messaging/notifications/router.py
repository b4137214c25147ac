import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import CurrentUser
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, QueryBool
from app.messaging.notifications import service
from app.messaging.notifications.exceptions import NotificationNotFound
from app.messaging.notifications.schemas import MarkedRead, NotificationRead, NotificationSummary

router = APIRouter(
    prefix=f"{API_PREFIX}/notifications",
    tags=["notifications"],
    responses=error_responses(InvalidToken),
)


@router.get("", response_model=Page[NotificationRead], responses=error_responses(InvalidCursor))
async def list_notifications(
    user: CurrentUser,
    session: DbSession,
    page: PageQuery,
    unread: Annotated[QueryBool, Query(description="`true`: only the unread ones")] = False,
) -> Page[NotificationRead]:
    """My notifications, newest first."""
    rows, next_cursor = await service.list_for(session, user, page, unread_only=unread)
    return Page(items=[NotificationRead.model_validate(n) for n in rows], next_cursor=next_cursor)


@router.get("/summary", response_model=NotificationSummary)
async def notification_summary(user: CurrentUser, session: DbSession) -> NotificationSummary:
    """How many of my notifications are unread (for a badge)."""
    return NotificationSummary(unread=await service.unread_count(session, user))


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    responses=error_responses(NotificationNotFound),
)
async def mark_notification_read(
    notification_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> NotificationRead:
    """Mark one notification read (again is harmless)."""
    return NotificationRead.model_validate(await service.mark_read(session, user, notification_id))


@router.post("/read-all", response_model=MarkedRead)
async def mark_all_notifications_read(user: CurrentUser, session: DbSession) -> MarkedRead:
    """Mark every unread notification of mine read."""
    return MarkedRead(marked=await service.mark_all_read(session, user))
