"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import UnprocessableEntity

# 10^12 minor units (ten billion dollars): far above any real listing, far below int64 limits,
# so sums over many lines can never overflow a BIGINT.
MAX_AMOUNT = 10**12

# strict: an amount is a JSON integer; "1999", 1999.0 and true are refused, not coerced.
Amount = Annotated[
    int, Field(strict=True, ge=0, le=MAX_AMOUNT, description="Integer minor units (cents)")
]


class Money(BaseModel):
    """An amount in minor units (e.g. cents) and its currency."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 1999, "currency": "USD"}]}
    )

    amount: Amount
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")


class SignedMoney(BaseModel):
    """A movement of money: positive in, negative out (ledger entries)."""

    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Integer minor units, signed")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class CurrencyNotSupported(UnprocessableEntity):
    code, title = "currency_not_supported", "Currency not supported"


def require_currency(money: Money, platform_currency: str) -> int:
    """The amount of `money`, which must be in the platform's settlement currency."""
    if money.currency != platform_currency:
        raise CurrencyNotSupported(
            f"amounts must be in {platform_currency}, the platform's currency"
        )
    return money.amount
