"""Webhook guards: the endpoint or delivery a request is about, loaded through a query scoped
to the caller's shop (`ShopPrincipal`) and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.core.db import DbSession
from app.core.guards import writes
from app.messaging.webhooks import service
from app.messaging.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.sellers.dependencies import ShopPrincipal


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
