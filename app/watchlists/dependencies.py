"""Watchlists guards: the caller's saved search a request is about, loaded through a query
scoped to the caller (another person's is a 404) and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.core.db import DbSession
from app.core.guards import writes
from app.watchlists import service
from app.watchlists.models import SavedSearch


async def guard_saved_search(
    saved_search_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> SavedSearch:
    return await service.get_saved_search(session, principal, saved_search_id, lock=writes(request))


OwnSavedSearch = Annotated[SavedSearch, Depends(guard_saved_search)]
"""One of the caller's saved searches; anybody else's is a 404. Locked when the request
writes."""
