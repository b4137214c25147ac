import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, field_validator

from app.core.schemas import Email, RequestSchema, Schema
from app.sellers.models import SellerStatus, SellerType

ShopName = Annotated[str, Field(min_length=2, max_length=80)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()./-]{6,32}$")]

# Letters and digits, 6 to 34 of them (an IBAN is at most 34), spaces anywhere (as IBANs are
# printed in groups of four); the spaces are dropped. One pattern for the check and the spec
# (SecretStr takes no `pattern` constraint of its own, and words a length error oddly).
PAYOUT_ACCOUNT_PATTERN = r"^ *(?:[A-Za-z0-9] *){6,34}$"
PAYOUT_ACCOUNT_MAX_LENGTH = 64
PayoutAccount = Annotated[
    SecretStr,
    Field(
        description="Bank account for payouts (IBAN or similar): 6 to 34 letters and digits, "
        "spaces ignored; only ever shown masked",
        json_schema_extra={
            "pattern": PAYOUT_ACCOUNT_PATTERN,
            "minLength": 6,
            "maxLength": PAYOUT_ACCOUNT_MAX_LENGTH,
        },
    ),
]


def _check_payout_account(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    raw = value.get_secret_value()
    if len(raw) > PAYOUT_ACCOUNT_MAX_LENGTH or not re.fullmatch(PAYOUT_ACCOUNT_PATTERN, raw):
        raise ValueError("a payout account is 6 to 34 letters and digits")
    return SecretStr(raw.replace(" ", "").upper())


class SellerApply(RequestSchema):
    shop_name: ShopName
    description: str = Field(default="", max_length=5000)
    legal_name: str = Field(min_length=2, max_length=200)
    seller_type: SellerType
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. DE")
    contact_email: Email
    contact_phone: Phone
    payout_account: PayoutAccount

    _payout = field_validator("payout_account")(_check_payout_account)


class SellerUpdate(RequestSchema):
    """What a seller may change without a new review."""

    description: str | None = Field(default=None, max_length=5000)
    contact_email: Email | None = None
    contact_phone: Phone | None = None
    payout_account: PayoutAccount | None = None

    _payout = field_validator("payout_account")(_check_payout_account)


class SellerRead(Schema):
    """The owner's (and admins') view: everything, the payout account masked."""

    id: uuid.UUID
    user_id: uuid.UUID
    shop_name: str
    slug: str
    description: str
    legal_name: str
    seller_type: SellerType
    country: str
    contact_email: str
    contact_phone: str
    payout_account_masked: str
    status: SellerStatus
    status_reason: str | None
    approved_at: datetime | None
    created_at: datetime
    allowed_actions: list[str] = Field(description="What the caller may do now")


class ShopPublicStatus(StrEnum):
    active = "active"
    """Selling."""
    suspended = "suspended"
    """Suspended by the platform: readable, its listings not for sale."""


class ShopPublic(Schema):
    """What anyone may see of a shop, whatever its state."""

    id: uuid.UUID = Field(description="The shop's id")
    shop_name: str
    slug: str
    description: str
    seller_type: SellerType = Field(description="A private individual or a business")
    country: str = Field(description="ISO 3166-1 alpha-2")
    joined_at: datetime = Field(description="When the shop was first approved")
    status: ShopPublicStatus
    accepting_orders: bool = Field(description="Its listings may be bought now")


class SellerDecision(RequestSchema):
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class SellerDecisionRequired(RequestSchema):
    reason: str = Field(min_length=1, max_length=2000)
