"""Parcel guards: a parcel of an order the caller bought or sold (any, for an admin)."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.core.db import DbSession
from app.core.guards import Guarded, writes
from app.logistics import service
from app.logistics.models import Shipment
from app.orders.state import OrderActor


async def guard_shipment(
    shipment_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[Shipment, OrderActor]:
    return await service.get_visible(session, principal, shipment_id, lock=writes(request))


ShipmentGuard = Annotated[Guarded[Shipment, OrderActor], Depends(guard_shipment)]
