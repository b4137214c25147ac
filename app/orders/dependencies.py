"""Order guards: the order (or checkout) a request is about, loaded through a query scoped
to the caller and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.core.db import DbSession
from app.core.guards import Guarded, writes
from app.orders import checkout, service
from app.orders.models import Checkout, Order
from app.orders.state import OrderActor


async def guard_order(
    order_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[Order, OrderActor]:
    return await service.get_visible(session, principal, order_id, lock=writes(request))


OrderGuard = Annotated[Guarded[Order, OrderActor], Depends(guard_order)]
"""An order the caller bought or sold (or any, for an admin), with their roles on it."""


async def guard_checkout(
    checkout_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[Checkout, OrderActor]:
    return await checkout.get_visible(session, principal, checkout_id, lock=writes(request))


CheckoutGuard = Annotated[Guarded[Checkout, OrderActor], Depends(guard_checkout)]
"""A checkout the caller bought (nobody else sees it, admins included), with its orders."""
