import uuid
from datetime import datetime

from sqlalchemy import Select, select

from app.core.outbox import OutboxEvent
from app.core.repository import RepositoryBase
from app.messaging.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


class EndpointRepository(RepositoryBase[WebhookEndpoint]):
    model = WebhookEndpoint

    def of_seller(self, seller_id: uuid.UUID) -> Select[WebhookEndpoint]:
        return select(WebhookEndpoint).where(WebhookEndpoint.seller_id == seller_id)

    async def get_of_seller(
        self, endpoint_id: uuid.UUID, seller_id: uuid.UUID
    ) -> WebhookEndpoint | None:
        return await self.get_one_or_none(
            self.of_seller(seller_id).where(WebhookEndpoint.id == endpoint_id)
        )

    async def enabled_of_seller(self, seller_id: uuid.UUID) -> list[WebhookEndpoint]:
        statement = self.of_seller(seller_id).where(WebhookEndpoint.enabled.is_(True))
        return list((await self.session.scalars(statement)).all())


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
        statement = self.of_seller(seller_id, endpoint_id=None, status=None).where(
            WebhookDelivery.id == delivery_id
        )
        if lock:
            statement = statement.with_for_update()
        return await self.get_one_or_none(statement)

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
