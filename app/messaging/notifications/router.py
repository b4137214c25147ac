from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, QueryBool, page_of
from app.messaging.notifications import service, views
from app.messaging.notifications.dependencies import NotificationGuard
from app.messaging.notifications.exceptions import NotificationNotFound
from app.messaging.notifications.schemas import MarkedRead, NotificationRead, NotificationSummary

router = APIRouter(
    prefix=f"{API_PREFIX}/notifications",
    tags=["notifications"],
    responses=error_responses(InvalidToken),
)


@router.get("", response_model=Page[NotificationRead], responses=error_responses(InvalidCursor))
async def list_notifications(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    unread: Annotated[QueryBool, Query(description="`true`: only the unread ones")] = False,
) -> Page[NotificationRead]:
    """My notifications, newest first."""
    notifications, next_cursor = await service.list_for(
        session, principal, page, unread_only=unread
    )
    return page_of(notifications, next_cursor, views.notification_read)


@router.get("/summary", response_model=NotificationSummary)
async def notification_summary(
    principal: CurrentPrincipal, session: DbSession
) -> NotificationSummary:
    """How many of my notifications are unread (for a badge)."""
    return views.summary(await service.unread_count(session, principal))


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    responses=error_responses(NotificationNotFound),
)
async def mark_notification_read(
    notification: NotificationGuard, session: DbSession
) -> NotificationRead:
    """Mark one notification read (again is harmless)."""
    await service.mark_read(session, notification)
    return views.notification_read(notification)


@router.post("/read-all", response_model=MarkedRead)
async def mark_all_notifications_read(
    principal: CurrentPrincipal, session: DbSession
) -> MarkedRead:
    """Mark every unread notification of mine read."""
    return views.marked_read(await service.mark_all_read(session, principal))
