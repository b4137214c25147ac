"""What a parcel announces (outbox events, on the order's timeline as its `shipment` steps)."""

from app.core.events import EventType
from app.logistics.models import ShipmentStatus


class ShipmentEventType(EventType):
    created = "shipment.created", "The seller handed a parcel of the order to a carrier."
    corrected = "shipment.corrected", "The seller corrected a parcel's carrier or number."
    in_transit = "shipment.in_transit", "The carrier has the parcel and it is moving."
    out_for_delivery = "shipment.out_for_delivery", "The parcel is out for delivery today."
    delivered = "shipment.delivered", "The carrier delivered the parcel."
    exception = (
        "shipment.exception",
        "The carrier reports a problem (lost, damaged, held): completion is frozen and the "
        "buyer may open a not_received dispute at once.",
    )
    returned_to_sender = (
        "shipment.returned_to_sender",
        "The parcel is going back to the seller: completion is frozen.",
    )
    return_delivered = (
        "shipment.return_delivered",
        "The parcel a buyer sent back reached the seller: the seller inspects it and confirms "
        "receipt (which refunds), or the return is received on its own after the inspection "
        "time.",
    )


ANNOUNCED: dict[ShipmentStatus, ShipmentEventType] = {
    ShipmentStatus.in_transit: ShipmentEventType.in_transit,
    ShipmentStatus.out_for_delivery: ShipmentEventType.out_for_delivery,
    ShipmentStatus.delivered: ShipmentEventType.delivered,
    ShipmentStatus.exception: ShipmentEventType.exception,
    ShipmentStatus.returned_to_sender: ShipmentEventType.returned_to_sender,
}
"""The event a parcel's new status announces (`label_created` is `created`'s; a returned
parcel's delivery is `return_delivered`)."""
