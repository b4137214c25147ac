"""Review guards: the review a request is about, loaded through a query scoped to the caller
(published reviews are public, so a read may come without one) and locked when the request
writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal, OptionalPrincipal
from app.auth.principal import Principal
from app.core.db import DbSession
from app.core.guards import Guarded, writes
from app.reviews import service
from app.reviews.models import Review, ReviewRole


async def _guard(
    session: DbSession, principal: Principal | None, review_id: uuid.UUID, request: Request
) -> Guarded[Review, ReviewRole]:
    return await service.get_visible(session, principal, review_id, lock=writes(request))


async def guard_review(
    review_id: uuid.UUID, request: Request, principal: OptionalPrincipal, session: DbSession
) -> Guarded[Review, ReviewRole]:
    return await _guard(session, principal, review_id, request)


async def guard_review_to_reply(
    review_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[Review, ReviewRole]:
    return await _guard(session, principal, review_id, request)


async def guard_review_to_hide(
    review_id: uuid.UUID, request: Request, principal: AdminPrincipal, session: DbSession
) -> Guarded[Review, ReviewRole]:
    return await _guard(session, principal, review_id, request)


ReviewGuard = Annotated[Guarded[Review, ReviewRole], Depends(guard_review)]
"""A review the caller, signed in or not, may see (see `ReviewRepository.visible_to`), with
their roles on it."""
ReviewToReply = Annotated[Guarded[Review, ReviewRole], Depends(guard_review_to_reply)]
"""The same, for a signed-in caller (a reply needs one: 401 before 404)."""
ReviewToHide = Annotated[Guarded[Review, ReviewRole], Depends(guard_review_to_hide)]
"""The same, for an admin (403 `admin_required` before 404 for anyone else)."""
