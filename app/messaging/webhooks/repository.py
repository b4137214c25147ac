import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, bindparam, delete, func, select

from app.core.outbox import OutboxEvent
from app.core.repository import RepositoryBase, locked
from app.messaging.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# Built once: every change that emits an event asks it.
_SUBSCRIPTIONS = select(
    WebhookEndpoint.seller_id, WebhookEndpoint.id, WebhookEndpoint.event_types
).where(WebhookEndpoint.seller_id.in_(bindparam("seller_ids", expanding=True)))


class EndpointRepository(RepositoryBase[WebhookEndpoint]):
    model = WebhookEndpoint

    def of_seller(self, seller_id: uuid.UUID) -> Select[WebhookEndpoint]:
        return select(WebhookEndpoint).where(WebhookEndpoint.seller_id == seller_id)

    async def get_of_seller(
        self, endpoint_id: uuid.UUID, seller_id: uuid.UUID, *, lock: bool = False
    ) -> WebhookEndpoint | None:
        """One of the shop's endpoints (another shop's: None, decided in the query)."""
        statement = self.of_seller(seller_id).where(WebhookEndpoint.id == endpoint_id)
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def subscriptions_of(
        self, seller_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[uuid.UUID, list[str]]]]:
        """{shop: (endpoint id, event types) of each of its endpoints, disabled ones
        included}, for every shop asked (an empty list for a shop with none)."""
        found: dict[uuid.UUID, list[tuple[uuid.UUID, list[str]]]] = {s: [] for s in seller_ids}
        rows = await self.session.execute(_SUBSCRIPTIONS, {"seller_ids": list(found)})
        for seller_id, endpoint_id, types in rows:
            found[seller_id].append((endpoint_id, types))
        return found

    async def lock(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        return await self.get_one_or_none(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )


class DeliveryRepository(RepositoryBase[WebhookDelivery]):
    model = WebhookDelivery

    def of_seller(
        self,
        seller_id: uuid.UUID,
        *,
        endpoint_id: uuid.UUID | None,
        status: DeliveryStatus | None,
    ) -> Select[WebhookDelivery]:
        statement = select(WebhookDelivery).where(WebhookDelivery.seller_id == seller_id)
        if endpoint_id is not None:
            statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
        if status is not None:
            statement = statement.where(WebhookDelivery.status == status)
        return statement

    async def get_of_seller(
        self, delivery_id: uuid.UUID, seller_id: uuid.UUID, *, lock: bool = False
    ) -> WebhookDelivery | None:
        """One of the shop's deliveries (another shop's: None, decided in the query)."""
        statement = self.of_seller(seller_id, endpoint_id=None, status=None).where(
            WebhookDelivery.id == delivery_id
        )
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def purge_finished_before(self, cutoff: datetime) -> int:
        """Deliveries delivered or given up before `cutoff` (their attempts go with them)."""
        finished_at = func.coalesce(WebhookDelivery.last_attempt_at, WebhookDelivery.created_at)
        result = await self.session.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.status != DeliveryStatus.pending, finished_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge_events_before(self, cutoff: datetime) -> int:
        """Domain events older than `cutoff` that no delivery still refers to."""
        still_queued = select(WebhookDelivery.id).where(WebhookDelivery.event_id == OutboxEvent.id)
        result = await self.session.execute(
            delete(OutboxEvent)
            .where(OutboxEvent.occurred_at < cutoff, ~still_queued.exists())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def any_succeeded_since(self, endpoint_id: uuid.UUID, since: datetime) -> bool:
        statement = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == DeliveryStatus.succeeded,
                WebhookDelivery.delivered_at >= since,
            )
            .limit(1)
        )
        return await self.session.scalar(statement) is not None

    async def attempts_of(self, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
        statement = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id.desc())
        )
        return list((await self.session.scalars(statement)).all())

    async def claim_due(
        self, at: datetime, limit: int
    ) -> list[tuple[WebhookDelivery, WebhookEndpoint, OutboxEvent]]:
        """Due deliveries of enabled endpoints, oldest first, row-locked; rows another
        worker holds are skipped (PostgreSQL)."""
        statement = (
            select(WebhookDelivery, WebhookEndpoint, OutboxEvent)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.status == DeliveryStatus.pending,
                WebhookDelivery.next_attempt_at <= at,
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        return [(d, e, o) for d, e, o in (await self.session.execute(statement)).all()]

    async def lock(self, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        return await self.get_one_or_none(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
