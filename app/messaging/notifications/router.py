from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import ValidationFailed, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import NO_NUL_PATTERN, Page, QueryBool, page_of
from app.messaging.notifications import service, views
from app.messaging.notifications.dependencies import NotificationGuard
from app.messaging.notifications.exceptions import NotificationNotFound, UnsubscribeLinkInvalid
from app.messaging.notifications.schemas import (
    MarkedRead,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    NotificationRead,
    NotificationSummary,
    Unsubscribed,
)

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


@router.get("/preferences", response_model=NotificationPreferences)
async def get_notification_preferences(principal: CurrentPrincipal) -> NotificationPreferences:
    """Which kinds of notification are mailed to me as well as shown here. Security notices
    (a new API key) are always mailed."""
    return views.preferences(principal.user)


@router.patch(
    "/preferences",
    response_model=NotificationPreferences,
    responses=error_responses(ValidationFailed),
)
async def update_notification_preferences(
    body: NotificationPreferencesUpdate, principal: CurrentPrincipal, session: DbSession
) -> NotificationPreferences:
    """Turn kinds of notification mail on or off (they keep appearing in
    `GET /v1/notifications` either way). Turning off a security notice, or a kind that is
    never mailed, answers 422."""
    user = await service.update_email_preferences(session, principal, body.email)
    return views.preferences(user)


@router.post(
    "/unsubscribe",
    response_model=Unsubscribed,
    responses=error_responses(UnsubscribeLinkInvalid),
    openapi_extra={"security": []},
)
async def unsubscribe(
    token: Annotated[str, Query(min_length=16, max_length=2048, pattern=NO_NUL_PATTERN)],
    session: DbSession,
    settings: AppSettings,
) -> Unsubscribed:
    """One-click unsubscribe (RFC 8058): the `List-Unsubscribe` link of a notification
    mail, POSTed by the mail program (any body, e.g. `List-Unsubscribe=One-Click`, is
    ignored). Turns that kind of mail off for the mail's addressee; no login needed, the
    link is signed for that person and kind only."""
    return Unsubscribed(type=await service.unsubscribe(session, settings, token))


@router.post("/read-all", response_model=MarkedRead)
async def mark_all_notifications_read(
    principal: CurrentPrincipal, session: DbSession
) -> MarkedRead:
    """Mark every unread notification of mine read."""
    return views.marked_read(await service.mark_all_read(session, principal))
