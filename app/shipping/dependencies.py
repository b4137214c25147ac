"""Shipping guards: the profile a request is about, loaded through a query scoped to the
caller's shop (`ShopPrincipal`) and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.core.db import DbSession
from app.core.guards import writes
from app.sellers.dependencies import ShopPrincipal
from app.shipping import profiles
from app.shipping.models import ShippingProfile


async def guard_profile(
    shipping_profile_id: uuid.UUID, request: Request, principal: ShopPrincipal, session: DbSession
) -> ShippingProfile:
    return await profiles.get_own(session, principal, shipping_profile_id, lock=writes(request))


OwnShippingProfile = Annotated[ShippingProfile, Depends(guard_profile)]
"""One of the caller's shop's profiles, with its rates; another shop's is a 404. Locked when
the request writes."""
