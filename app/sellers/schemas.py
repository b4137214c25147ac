import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, SecretStr, field_validator

from app.core.schemas import RequestSchema, Schema
from app.sellers.models import SellerStatus, SellerType

ShopName = Annotated[str, Field(min_length=2, max_length=80)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()./-]{6,32}$")]
PayoutAccount = Annotated[
    SecretStr,
    Field(description="Bank account for payouts (IBAN or similar); only ever shown masked"),
]


def _check_payout_account(value: SecretStr | None) -> SecretStr | None:
    """Letters and digits, 6 to 34 of them (an IBAN is at most 34), spaces dropped."""
    if value is None:
        return None
    compact = value.get_secret_value().replace(" ", "")
    if not (6 <= len(compact) <= 34 and compact.isascii() and compact.isalnum()):
        raise ValueError("a payout account is 6 to 34 letters and digits")
    return SecretStr(compact.upper())


class SellerApply(RequestSchema):
    shop_name: ShopName
    description: str = Field(default="", max_length=5000)
    legal_name: str = Field(min_length=2, max_length=200)
    seller_type: SellerType
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. DE")
    contact_email: EmailStr
    contact_phone: Phone
    payout_account: PayoutAccount

    _payout = field_validator("payout_account")(_check_payout_account)


class SellerUpdate(RequestSchema):
    """What a seller may change without a new review."""

    description: str | None = Field(default=None, max_length=5000)
    contact_email: EmailStr | None = None
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


class SellerDecision(RequestSchema):
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class SellerDecisionRequired(RequestSchema):
    reason: str = Field(min_length=1, max_length=2000)
