from app.core.errors import AppError, Conflict, NotFound, UnprocessableEntity


class ShipmentNotFound(NotFound):
    code, title = "not_found", "Shipment not found"


class TrackingProviderNotFound(NotFound):
    code, title = "not_found", "No such tracking provider accepts events here"


class ShipmentNotCorrectable(Conflict):
    code, title = "shipment_not_correctable", "The parcel can no longer be corrected"


class TrackingNumberInUse(Conflict):
    code, title = "tracking_number_in_use", "That tracking number belongs to another order"


class InvalidShipmentLines(UnprocessableEntity):
    code, title = "invalid_shipment_lines", "The parcel's lines do not fit the order"


class InvalidTrackingEvent(UnprocessableEntity):
    code, title = "invalid_tracking_event", "The carrier event cannot be true"


class InvalidTrackingSignature(AppError):
    status, code, title = 401, "invalid_signature", "The event's signature does not verify"
