"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from app.core.errors import UnprocessableEntity
from app.core.schemas import WHOLE_NUMBER

# 10^12 minor units (ten billion dollars): far above any real listing, far below int64 limits,
# so sums over many lines can never overflow a BIGINT.
MAX_AMOUNT = 10**12

# The columns are BIGINT: `int64` tells generated clients which integer type to use.
_INT64: dict[str, object] = {"format": "int64"}

# An amount is a JSON integer: "1999", 1999.5 and true are refused, not coerced.
Amount = Annotated[
    int,
    Field(
        strict=True,
        ge=0,
        le=MAX_AMOUNT,
        description="Integer minor units (cents)",
        json_schema_extra=_INT64,
    ),
    WHOLE_NUMBER,
]
PositiveAmount = Annotated[
    int,
    Field(
        strict=True,
        ge=1,
        le=MAX_AMOUNT,
        description="Integer minor units (cents), above zero",
        json_schema_extra=_INT64,
    ),
    WHOLE_NUMBER,
]
SignedAmount = Annotated[
    int,
    Field(
        ge=-MAX_AMOUNT,
        le=MAX_AMOUNT,
        description="Integer minor units, signed",
        json_schema_extra=_INT64,
    ),
]
# A bound in a query string (text, so not strict), as bounded as a body's amount: past the
# int64 range a database refuses the comparison.
QueryAmount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, json_schema_extra=_INT64)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")]


class Money(BaseModel):
    """An amount in minor units (e.g. cents) and its currency."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 1999, "currency": "USD"}]}
    )

    amount: Amount
    currency: Currency


PLATFORM_CURRENCY_MARKER = "x-platform-currency"
"""Marks the currency of money a client sends: app.core.openapi replaces it with an `enum` of
the one currency the deployment settles in (`MARKETPLACE_CURRENCY`), which the services
require (422 `currency_not_supported`)."""


class PlatformMoney(Money):
    """Money a client sends: in the platform's currency."""

    currency: Annotated[Currency, Field(json_schema_extra={PLATFORM_CURRENCY_MARKER: True})]


class PositiveMoney(PlatformMoney):
    """Money a client sends that must be more than zero: a price, a payout, a partial refund."""

    amount: PositiveAmount


class _ValidatedAs:
    """`Annotated[Money, _ValidatedAs(Sub)]`: validated and documented as the subclass `Sub`,
    typed as `Money` so that Python callers (the demo seed) may pass any Money, which is
    then checked as if it had come as JSON."""

    def __init__(self, model: type[Money]) -> None:
        self.model = model

    def _plain(self, value: object) -> object:
        if isinstance(value, Money) and not isinstance(value, self.model):
            return value.model_dump()
        return value

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            self._plain, handler.generate_schema(self.model)
        )


MoneyIn = Annotated[Money, _ValidatedAs(PlatformMoney)]
"""The type of a request field of money."""
MoneyAboveZero = Annotated[Money, _ValidatedAs(PositiveMoney)]
"""The type of a request field of money that must be more than zero."""


class SignedMoney(BaseModel):
    """A movement of money: positive in, negative out (ledger entries)."""

    amount: SignedAmount
    currency: Currency


class CurrencyNotSupported(UnprocessableEntity):
    code, title = "currency_not_supported", "Currency not supported"


def require_currency(money: Money, platform_currency: str) -> int:
    """The amount of `money`, which must be in the platform's settlement currency."""
    if money.currency != platform_currency:
        raise CurrencyNotSupported(
            f"amounts must be in {platform_currency}, the platform's currency"
        )
    return money.amount


# ISO 4217 currencies whose minor unit is not a hundredth (the rest have two decimals).
_DECIMALS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def format_money(amount: int, currency: str) -> str:
    """An amount as a sentence shows it, e.g. `15.00 USD` or `-3.50 EUR` (no locale: the
    API writes one language; a client formats `Money` itself where it localises)."""
    decimals = _DECIMALS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    units, minor = divmod(abs(amount), 10**decimals)
    return (
        f"{sign}{units}.{minor:0{decimals}d} {currency}"
        if decimals
        else f"{sign}{units} {currency}"
    )
