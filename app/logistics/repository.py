import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from app.core.repository import RepositoryBase, locked
from app.logistics.models import Shipment, ShipmentLine, TrackingEvent
from app.orders.models import Order
from app.shipping.carriers import Tracking


class ShipmentRepository(RepositoryBase[Shipment]):
    model = Shipment

    def _with_lines(self) -> Select[Shipment]:
        return select(Shipment).options(selectinload(Shipment.lines))

    async def get_with_lines(
        self, shipment_id: uuid.UUID, *, lock: bool = False
    ) -> Shipment | None:
        statement = self._with_lines().where(Shipment.id == shipment_id)
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def of_order(self, order_id: uuid.UUID) -> Sequence[Shipment]:
        statement = self._with_lines().where(Shipment.order_id == order_id).order_by(Shipment.id)
        return (await self.session.scalars(statement)).all()

    async def outbound_of(self, order_id: uuid.UUID) -> Sequence[Shipment]:
        """The parcels carrying the order to the buyer (not those of returns)."""
        statement = select(Shipment).where(
            Shipment.order_id == order_id, Shipment.return_id.is_(None)
        )
        return (await self.session.scalars(statement.order_by(Shipment.id))).all()

    async def of_return(self, return_id: uuid.UUID) -> Shipment | None:
        statement = self._with_lines().where(Shipment.return_id == return_id)
        return await self.get_one_or_none(statement.order_by(Shipment.id.desc()).limit(1))

    async def ships_order_under(self, order_id: uuid.UUID, tracking: Tracking) -> bool:
        """Whether one of the order's outbound parcels travels under that carrier's number."""
        statement = select(Shipment.id).where(
            Shipment.order_id == order_id,
            Shipment.return_id.is_(None),
            Shipment.carrier == tracking.carrier,
            Shipment.tracking_number == tracking.tracking_number,
        )
        return await self.session.scalar(statement.limit(1)) is not None

    async def tracked_as(self, carrier: str, tracking_number: str) -> Sequence[Shipment]:
        """The parcels under one carrier's number (the same shop may reuse a number for
        several orders of one buyer)."""
        statement = select(Shipment).where(
            Shipment.carrier == carrier, Shipment.tracking_number == tracking_number
        )
        return (await self.session.scalars(statement.order_by(Shipment.id))).all()

    async def number_used_elsewhere(
        self, carrier: str, tracking_number: str, *, buyer_id: uuid.UUID, seller_id: uuid.UUID
    ) -> bool:
        """Whether another shop, or this shop for another buyer, already shipped under it."""
        statement = (
            select(Shipment.id)
            .join(Order, Order.id == Shipment.order_id)
            .where(
                Shipment.carrier == carrier,
                Shipment.tracking_number == tracking_number,
                (Order.buyer_id != buyer_id) | (Order.seller_id != seller_id),
            )
            .limit(1)
        )
        return await self.session.scalar(statement) is not None

    def order_due_for_poll(self, at: datetime) -> Select[Order]:
        """Orders with a parcel due to be asked about: the worker claims the order's row,
        which every path locks before its parcels."""
        due = select(Shipment.order_id).where(Shipment.next_poll_at <= at)
        return select(Order).where(Order.id.in_(due))

    async def packed_quantities(self, order_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """{order line id: units already in a parcel} for one order."""
        statement = (
            select(ShipmentLine.order_line_id, func.sum(ShipmentLine.quantity))
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .where(Shipment.order_id == order_id, Shipment.return_id.is_(None))
            .group_by(ShipmentLine.order_line_id)
        )
        return {line_id: int(total) for line_id, total in (await self.session.execute(statement))}


class TrackingEventRepository(RepositoryBase[TrackingEvent]):
    model = TrackingEvent

    async def of_shipments(self, shipment_ids: Sequence[uuid.UUID]) -> Sequence[TrackingEvent]:
        statement = (
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id.in_(shipment_ids))
            .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
        )
        return (await self.session.scalars(statement)).all()

    async def has_any(self, shipment_id: uuid.UUID) -> bool:
        statement = select(TrackingEvent.id).where(TrackingEvent.shipment_id == shipment_id)
        return await self.session.scalar(statement.limit(1)) is not None
