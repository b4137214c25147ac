import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema
from pydantic.config import JsonDict

from app.core.money import PLATFORM_CURRENCY_MARKER, Currency, Money, MoneyAboveZero, MoneyIn
from app.core.schemas import NOT_BLANK_PATTERN, RequestSchema, Schema
from app.shipping.regions import COUNTRIES


class TrackingFormatRead(Schema):
    name: str = Field(examples=["1Z + 16 letters and digits"])
    example: str = Field(description="A number of this format that passes its check digit")


class CarrierRead(Schema):
    code: str = Field(
        description="What to send as a parcel's `carrier`; `other` (the last entry) needs a "
        "`carrier_name` too",
        examples=["ups"],
    )
    name: str = Field(examples=["UPS"])
    country: str | None = Field(
        description="ISO 3166-1 alpha-2 country the carrier serves; null: international",
        examples=["US"],
    )
    tracking_url_template: str | None = Field(
        description="The carrier's public tracking page, with `{tracking_number}` where the "
        "URL-encoded number goes; null: none",
        examples=["https://www.ups.com/track?tracknum={tracking_number}"],
    )
    formats: list[TrackingFormatRead] = Field(
        description="The shapes of number the carrier accepts (none listed: any 4 to 40 "
        "letters, digits and hyphens)"
    )


# --- shipping profiles -------------------------------------------------------------------------

Destination = Annotated[
    str,
    Field(
        pattern=r"^(?:[A-Z]{2}|\*)$",
        description="An ISO 3166-1 alpha-2 country (`DE`), a region (`EU`: the 27 member "
        "states) or `*` (every country the profile's other rates do not name)",
        examples=["DE"],
    ),
]


def _known_country(code: str) -> str:
    if code not in COUNTRIES:
        raise ValueError(f"{code} is not an ISO 3166-1 alpha-2 country code")
    return code


CountryCode = Annotated[
    str,
    AfterValidator(_known_country),
    WithJsonSchema(
        {"type": "string", "enum": sorted(COUNTRIES), "description": "ISO 3166-1 alpha-2"}
    ),
]
"""A country goods can go to: one of the codes the profiles' rates may name (`UK` is not
one, `GB` is), so an address always finds the rate its country has."""

ProfileName = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK_PATTERN)]
MAX_RATES = 50
MAX_DESTINATIONS = 300  # more than there are countries


class ShippingRateIn(RequestSchema):
    destinations: list[Destination] = Field(
        min_length=1,
        max_length=MAX_DESTINATIONS,
        description="Where this rate applies. A country's own rate beats its region's, which "
        "beats `*`; a code may appear in one rate of the profile only",
    )
    first_item: MoneyIn = Field(description="The first unit of the profile's items in an order")
    additional_item: MoneyIn = Field(description="Each further unit")
    free_over: MoneyAboveZero | None = Field(
        default=None,
        description="Shipping is free when the profile's items in the order cost at least "
        "this (null: never free)",
    )


_PROFILE_EXAMPLE: JsonDict = {
    "name": "Standard parcel",
    "currency": "USD",
    "rates": [
        {
            "destinations": ["DE"],
            "first_item": {"amount": 490, "currency": "USD"},
            "additional_item": {"amount": 150, "currency": "USD"},
            "free_over": {"amount": 5000, "currency": "USD"},
        },
        {
            "destinations": ["EU"],
            "first_item": {"amount": 990, "currency": "USD"},
            "additional_item": {"amount": 300, "currency": "USD"},
            "free_over": None,
        },
    ],
}


class ShippingProfileCreate(RequestSchema):
    """A way of charging shipping that listings of the shop may point to. Amounts are in the
    profile's currency, which must be the platform's."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PROFILE_EXAMPLE]})

    name: ProfileName = Field(description="Unique within the shop")
    currency: Annotated[Currency, Field(json_schema_extra={PLATFORM_CURRENCY_MARKER: True})]
    rates: list[ShippingRateIn] = Field(
        min_length=1,
        max_length=MAX_RATES,
        description="A destination no rate names (directly, by region or by `*`) is not "
        "served: checkout to it is refused",
    )


class ShippingProfileUpdate(ShippingProfileCreate):
    """The whole profile as it is to be: its rates replace the old ones. Listings on it are
    charged the new rates from their next checkout; orders keep what they were charged."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PROFILE_EXAMPLE]})


class ShippingRateRead(Schema):
    destinations: list[str]
    first_item: Money
    additional_item: Money
    free_over: Money | None


class ShippingProfileRead(Schema):
    id: uuid.UUID
    name: str
    currency: str
    rates: list[ShippingRateRead]
    created_at: datetime
    updated_at: datetime


class ShippingChargeRead(Schema):
    """What the items of one shipping profile pay together for one destination."""

    profile_id: uuid.UUID
    profile_name: str = Field(description="The profile's name when charged")
    destination: str = Field(
        description="The code of the rate that matched: the country itself, a region (`EU`) or `*`"
    )
    listing_ids: list[uuid.UUID] = Field(description="The lines charged together")
    units: int
    items_total: Money = Field(description="What those lines' items cost")
    first_item: Money
    additional_item: Money
    free_over: Money | None = Field(description="Free from this items total (null: never)")
    fee: Money = Field(
        description="first_item + (units - 1) * additional_item, or zero when items_total "
        "reaches free_over; split over the lines' `shipping_fee` by their units"
    )
