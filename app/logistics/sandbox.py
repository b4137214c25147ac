"""The sandbox tracking provider: the suffix of a `sandbox` carrier's tracking number
scripts the parcel's journey, as the payment sandbox's tokens script a payment. Minutes
count from when the number was given, on the application's clock, so tests and
integrators drive a journey by moving the clock.

    SBX00000001                   in transit now, delivered after a day (1440 minutes)
    SBX00000001-DELIVERED-<n>     in transit now, out for delivery and delivered after n
    SBX00000001-LOST-<n>          in transit now, lost after n (exception)
    SBX00000001-RETURNED-<n>      in transit now, returned to sender after n
    SBX00000001-DELAYED-<n>-<m>   in transit now, delayed after n (exception), delivered after m
    SBX00000001-STUCK             in transit now, then nothing ever again
    SBX00000001-SILENT            the carrier never reports anything
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.logistics.models import Shipment, ShipmentStatus
from app.logistics.providers import Poll, TrackingUpdate
from app.shipping.carriers import SANDBOX
from app.shipping.exceptions import InvalidTrackingNumber

NAME = SANDBOX
DEFAULT_DELIVERY_MINUTES = 1440
_SCRIPT = re.compile(
    r"SBX\d{8}(?:-(?:(?P<word>DELIVERED|LOST|RETURNED)-(?P<n>\d{1,6})"
    r"|DELAYED-(?P<delay>\d{1,6})-(?P<late>\d{1,6})|(?P<flat>STUCK|SILENT)))?"
)
_HUB = "Sandbox hub"


@dataclass(frozen=True, slots=True)
class _Step:
    minutes: int
    status: ShipmentStatus
    description: str


def script(tracking_number: str) -> tuple[_Step, ...]:
    """The journey a sandbox number scripts; 422 for a number no script reads."""
    match = _SCRIPT.fullmatch(tracking_number)
    if match is None:
        raise InvalidTrackingNumber(
            "a sandbox number is SBX and 8 digits, then optionally -DELIVERED-<minutes>, "
            "-LOST-<minutes>, -RETURNED-<minutes>, -DELAYED-<minutes>-<minutes>, -STUCK or "
            "-SILENT"
        )
    moving = _Step(0, ShipmentStatus.in_transit, "Accepted at the sandbox hub")
    word, flat = match["word"], match["flat"]
    if flat == "SILENT":
        return ()
    if flat == "STUCK":
        return (moving,)
    if match["delay"] is not None:
        delay, late = int(match["delay"]), int(match["late"])
        if late < delay:
            raise InvalidTrackingNumber("DELAYED-<n>-<m> needs m (delivery) ≥ n (delay)")
        return (
            moving,
            _Step(delay, ShipmentStatus.exception, "Delayed: held at the sandbox hub"),
            _Step(late, ShipmentStatus.delivered, "Delivered"),
        )
    minutes = int(match["n"]) if match["n"] is not None else DEFAULT_DELIVERY_MINUTES
    if word == "LOST":
        return (moving, _Step(minutes, ShipmentStatus.exception, "Lost in transit"))
    if word == "RETURNED":
        return (
            moving,
            _Step(minutes, ShipmentStatus.returned_to_sender, "Returned to the sender"),
        )
    return (
        moving,
        _Step(minutes, ShipmentStatus.out_for_delivery, "Out for delivery"),
        _Step(minutes, ShipmentStatus.delivered, "Delivered"),
    )


class SandboxProvider:
    name = NAME

    def carries(self, carrier: str) -> bool:
        return carrier == NAME

    def check(self, tracking_number: str) -> None:
        script(tracking_number)

    def poll(self, shipment: Shipment, at: datetime) -> Poll:
        start = shipment.tracking_since
        steps = script(shipment.tracking_number)
        due = tuple(
            TrackingUpdate(
                event_id=f"{shipment.tracking_number}:{index}",
                status=step.status,
                occurred_at=start + timedelta(minutes=step.minutes),
                description=step.description,
                location=_HUB,
            )
            for index, step in enumerate(steps)
            if start + timedelta(minutes=step.minutes) <= at
        )
        pending = [start + timedelta(minutes=s.minutes) for s in steps[len(due) :]]
        return Poll(due, min(pending, default=None))
