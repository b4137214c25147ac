"""Tracking providers: who tells us where a parcel is. A provider either pushes events to
`POST /v1/logistics/webhooks/{provider}` or is polled by the worker; both hand the service
the same `TrackingUpdate`s."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.logistics.models import Shipment, ShipmentStatus


@dataclass(frozen=True, slots=True)
class TrackingUpdate:
    """One carrier scan, as a provider reports it."""

    event_id: str
    """The provider's id for the scan: the same scan reported twice is applied once."""
    status: ShipmentStatus
    occurred_at: datetime
    description: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Poll:
    updates: tuple[TrackingUpdate, ...]
    next_poll_at: datetime | None
    """When to ask again (null: the provider has nothing more to say about the parcel)."""


class TrackingProvider(Protocol):
    name: str

    def carries(self, carrier: str) -> bool:
        """Whether this provider reports on parcels of `carrier` (a registry code)."""
        ...

    def check(self, tracking_number: str) -> None:
        """Refuse (422) a number this provider could never report on."""
        ...

    def poll(self, shipment: Shipment, at: datetime) -> Poll:
        """The scans known by `at` (all of them, old ones too: applying is idempotent)."""
        ...
