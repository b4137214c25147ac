"""Shipments (parcels) and the tracking events their carriers report."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class ShipmentStatus(StrEnum):
    label_created = "label_created"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    exception = "exception"
    """Lost, damaged or held: the carrier says something is wrong."""
    returned_to_sender = "returned_to_sender"


class Shipment(IdMixin, TimestampMixin, Base):
    """One parcel of an order: who carries it, under which number, and where it is."""

    __tablename__ = "shipments"
    __table_args__ = (
        Index("ix_shipments_order", "order_id", "id"),
        Index("ix_shipments_tracking", "carrier", "tracking_number"),
        Index("ix_shipments_next_poll_at", "next_poll_at"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    return_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("returns.id"), index=True)
    """The return this parcel carries back to the seller (null: the order going out)."""
    carrier: Mapped[str] = mapped_column(String(32))
    """A code of `GET /v1/carriers`, or `other`."""
    carrier_name: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64))
    """Normalized: no whitespace, upper case."""
    tracking_since: Mapped[datetime]
    """When the seller gave this carrier and number (shipping, or the last correction)."""
    status: Mapped[ShipmentStatus] = mapped_column(enum_column(ShipmentStatus, "shipment_status"))
    status_at: Mapped[datetime]
    """When the event that set `status` happened (at the carrier); creation before any."""
    delivered_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(32))
    """The tracking provider that reports on this parcel (null: none does)."""
    next_poll_at: Mapped[datetime | None]
    """When the worker next asks a polling provider about it (null: it does not)."""
    correctable_until: Mapped[datetime]
    """The seller may correct carrier and number until then, while no scan has arrived."""

    lines: Mapped[list["ShipmentLine"]] = relationship(
        lazy="raise", order_by="ShipmentLine.id", cascade="all, delete-orphan"
    )


class ShipmentLine(IdMixin, Base):
    """How many of one order line travel in this parcel."""

    __tablename__ = "shipment_lines"

    shipment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shipments.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order_lines.id"))
    quantity: Mapped[int]


class TrackingEvent(IdMixin, Base):
    """One scan a carrier reported, kept as received: replays are refused by the provider's
    event id, and events arriving out of order are kept but change the status only when
    they are the newest."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id", "shipment_id"),
        Index("ix_tracking_events_shipment", "shipment_id", "occurred_at"),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    provider_event_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[ShipmentStatus] = mapped_column(enum_column(ShipmentStatus, "shipment_status"))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(128))
