"""Promotion guards: the promotion a request is about, loaded through a query scoped to the
caller (a shop's own; any for an admin) and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import AdminPrincipal
from app.core.db import DbSession
from app.core.guards import writes
from app.promotions import service
from app.promotions.models import Promotion
from app.sellers.dependencies import ShopPrincipal


async def guard_own_promotion(
    promotion_id: uuid.UUID, request: Request, principal: ShopPrincipal, session: DbSession
) -> Promotion:
    return await service.get_own(session, principal, promotion_id, lock=writes(request))


async def guard_admin_promotion(
    promotion_id: uuid.UUID, request: Request, _admin: AdminPrincipal, session: DbSession
) -> Promotion:
    return await service.get_for_admin(session, promotion_id, lock=writes(request))


OwnPromotion = Annotated[Promotion, Depends(guard_own_promotion)]
"""One of the caller's shop's promotions; another shop's, or the platform's, is a 404.
Locked when the request writes."""
AdminPromotion = Annotated[Promotion, Depends(guard_admin_promotion)]
"""Any promotion, for an admin (403 to anyone else). Locked when the request writes."""
