"""Offer guards: the offer a request is about, loaded through a query scoped to its two
parties and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.core.db import DbSession
from app.core.guards import Guarded, writes
from app.offers import service
from app.offers.models import Offer
from app.offers.state import OfferActor


async def guard_offer(
    offer_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[Offer, OfferActor]:
    return await service.get_visible(session, principal, offer_id, lock=writes(request))


OfferGuard = Annotated[Guarded[Offer, OfferActor], Depends(guard_offer)]
"""An offer the caller made or received, with their side of it; anyone else's is a 404."""
