import uuid
from datetime import datetime

from pydantic import Field

from app.core.schemas import RequestSchema, Rfc3339, Schema
from app.logistics.models import ShipmentStatus
from app.orders.schemas import LineQuantity

_NUMBER = Field(
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9 -]+$",
    description="As printed on the label; spaces are ignored. Checked against the carrier's "
    "formats (`GET /v1/carriers`).",
    examples=["SBX00000001-DELIVERED-0"],
)
_CARRIER = Field(
    min_length=1,
    max_length=64,
    description="A code of `GET /v1/carriers` (`sandbox` in tests), or `other` with "
    '`carrier_name`. A carrier\'s name ("DHL", "Royal Mail") is accepted too.',
    examples=["sandbox"],
)
_CARRIER_NAME = Field(
    default=None,
    min_length=1,
    max_length=64,
    description="Required with carrier `other`: the carrier's name as the buyer knows it",
)


class ParcelLine(RequestSchema):
    order_line_id: uuid.UUID
    quantity: LineQuantity


class ShipRequest(RequestSchema):
    carrier: str = _CARRIER
    carrier_name: str | None = _CARRIER_NAME
    tracking_number: str = _NUMBER
    lines: list[ParcelLine] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="What this parcel holds; omitted: everything not yet in a parcel (422 "
        "if nothing is left)",
    )


class ShipmentCorrection(RequestSchema):
    carrier: str = _CARRIER
    carrier_name: str | None = _CARRIER_NAME
    tracking_number: str = _NUMBER


class ParcelLineRead(Schema):
    order_line_id: uuid.UUID
    quantity: int


class TrackingEventRead(Schema):
    id: uuid.UUID
    status: ShipmentStatus
    occurred_at: datetime
    received_at: datetime
    description: str | None
    location: str | None


class ShipmentRead(Schema):
    id: uuid.UUID
    order_id: uuid.UUID
    carrier: str
    carrier_name: str
    tracking_number: str
    tracking_url: str | None = Field(description="The carrier's tracking page for the parcel")
    status: ShipmentStatus
    status_at: datetime = Field(description="When the carrier reported the current status")
    delivered_at: datetime | None
    correctable_until: datetime | None = Field(
        description="Until then, and while no scan has arrived, the seller may correct "
        "carrier and number (null: no longer)"
    )
    created_at: datetime
    lines: list[ParcelLineRead]
    events: list[TrackingEventRead] = Field(description="The carrier's scans, oldest first")


class TrackingWebhook(RequestSchema):
    """A carrier event, as a tracking provider pushes it (signed with Standard Webhooks
    headers under the provider's secret)."""

    id: str = Field(
        min_length=1,
        max_length=128,
        description="The provider's event id: the same id twice is applied once",
        examples=["evt_0001"],
    )
    carrier: str = Field(min_length=1, max_length=64, examples=["sandbox"])
    tracking_number: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 -]+$", examples=["SBX00000001-SILENT"]
    )
    status: ShipmentStatus
    occurred_at: Rfc3339 = Field(
        description="When the scan happened at the carrier", examples=["2026-12-07T12:00:00Z"]
    )
    description: str | None = Field(default=None, max_length=500, examples=["Delivered"])
    location: str | None = Field(default=None, max_length=128, examples=["Berlin"])


class TrackingWebhookReceipt(Schema):
    applied: int = Field(
        description="Parcels the event changed or added to (0: unknown number, or a replay)"
    )
