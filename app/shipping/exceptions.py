import uuid
from collections.abc import Sequence

from app.core.errors import Conflict, NotFound, UnprocessableEntity


class UnknownCarrier(UnprocessableEntity):
    code, title = "unknown_carrier", "Unknown carrier"

    def __init__(self, carrier: str) -> None:
        super().__init__(
            f"No carrier is called {carrier!r}: use a `code` from GET /v1/carriers, or "
            "`other` together with a `carrier_name`."
        )


class CarrierNameRequired(UnprocessableEntity):
    code, title = "carrier_name_required", "Carrier name required"

    def __init__(self) -> None:
        super().__init__(
            "The carrier `other` needs a `carrier_name`: the name of the company that carries "
            "the parcel."
        )


class InvalidTrackingNumber(UnprocessableEntity):
    code, title = "invalid_tracking_number", "Invalid tracking number"


class ShippingProfileNotFound(NotFound):
    code, title = "not_found", "Shipping profile not found"


class ShippingProfileNameTaken(Conflict):
    code, title = "shipping_profile_name_taken", "The shop has a shipping profile of this name"


class ShippingProfileInUse(Conflict):
    code, title = "shipping_profile_in_use", "Listings use this shipping profile"


class UnknownDestination(UnprocessableEntity):
    code, title = "unknown_destination", "Unknown destination"


class DuplicateDestination(UnprocessableEntity):
    code, title = "duplicate_destination", "A destination appears in more than one rate"


class UnknownShippingProfile(UnprocessableEntity):
    code, title = "unknown_shipping_profile", "No such shipping profile in your shop"


class ShippingProfileCurrencyMismatch(UnprocessableEntity):
    code, title = (
        "shipping_profile_currency_mismatch",
        "The shipping profile charges in another currency than the listing",
    )


class DestinationNotServed(UnprocessableEntity):
    code, title = "destination_not_served", "Not shipped to this destination"

    def __init__(
        self, *, country: str, titles: Sequence[str], listing_ids: Sequence[uuid.UUID]
    ) -> None:
        names = ", ".join(f"'{title}'" for title in titles)
        one = len(titles) == 1
        super().__init__(
            f"{names} {'is' if one else 'are'} not shipped to {country}: remove "
            f"{'it' if one else 'them'}, or ship to another address",
            extra={"country": country, "listing_ids": [str(i) for i in listing_ids]},
        )
        self.country = country
        self.titles = tuple(titles)
        self.listing_ids = tuple(listing_ids)
