"""Webhook guards: the caller as a shop, and the endpoint or delivery a request is about,
loaded through a query scoped to the caller's shop and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.auth.principal import Principal
from app.core.db import DbSession
from app.core.guards import writes
from app.messaging.webhooks import service
from app.messaging.webhooks.models import WebhookDelivery, WebhookEndpoint


async def get_shop_principal(principal: CurrentPrincipal) -> Principal:
    # A dependency of its own, so that a caller without a shop is refused (403) before the
    # guards below look at their ids.
    service.require_shop(principal)
    return principal


ShopPrincipal = Annotated[Principal, Depends(get_shop_principal)]
"""A caller with a shop, in any state (a suspended shop still sees its webhooks)."""


async def guard_endpoint(
    endpoint_id: uuid.UUID, request: Request, principal: ShopPrincipal, session: DbSession
) -> WebhookEndpoint:
    return await service.get_endpoint(session, principal, endpoint_id, lock=writes(request))


EndpointGuard = Annotated[WebhookEndpoint, Depends(guard_endpoint)]
"""One of the caller's shop's endpoints; the shop is the only party to it."""


async def guard_delivery(
    delivery_id: uuid.UUID, request: Request, principal: ShopPrincipal, session: DbSession
) -> WebhookDelivery:
    return await service.get_delivery(session, principal, delivery_id, lock=writes(request))


DeliveryGuard = Annotated[WebhookDelivery, Depends(guard_delivery)]
"""One of the caller's shop's deliveries; the shop is the only party to it."""
