"""Notification guard: the notification a request is about, loaded through a query scoped
to the caller (someone else's: 404, decided in SQL) and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.core.db import DbSession
from app.core.guards import writes
from app.messaging.notifications import service
from app.messaging.notifications.models import Notification


async def guard_notification(
    notification_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Notification:
    return await service.get_own(session, principal, notification_id, lock=writes(request))


NotificationGuard = Annotated[Notification, Depends(guard_notification)]
"""One of the caller's notifications; its recipient is the only party to it."""
