from app.logistics.schemas import ParcelLineRead, ShipmentRead, TrackingEventRead
from app.logistics.service import ShipmentView
from app.shipping.carriers import tracking_url


def to_read(shown: ShipmentView) -> ShipmentRead:
    shipment = shown.shipment
    return ShipmentRead(
        id=shipment.id,
        order_id=shipment.order_id,
        carrier=shipment.carrier,
        carrier_name=shipment.carrier_name,
        tracking_number=shipment.tracking_number,
        tracking_url=tracking_url(shipment.carrier, shipment.tracking_number),
        status=shipment.status,
        status_at=shipment.status_at,
        delivered_at=shipment.delivered_at,
        correctable_until=shipment.correctable_until if shown.correctable else None,
        created_at=shipment.created_at,
        lines=[ParcelLineRead.model_validate(line) for line in shipment.lines],
        events=[TrackingEventRead.model_validate(event) for event in shown.events],
    )
