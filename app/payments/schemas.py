import uuid
from datetime import datetime

from pydantic import Field

from app.core.money import Money, MoneyAboveZero, SignedMoney
from app.core.schemas import RequestSchema, Schema
from app.payments.models import Account, PayoutStatus


class BalanceRead(Schema):
    currency: str
    pending: Money = Field(description="Proceeds still inside the payout hold")
    available: Money = Field(description="Can be paid out")
    debt: Money = Field(description="Owed to the platform (after refunds), recovered from sales")
    in_transit: Money = Field(description="Payouts requested, not yet settled")
    reserved: Money = Field(description="Proceeds of disputed orders, frozen until resolved")


class LedgerEntryRead(Schema):
    id: uuid.UUID
    transaction_id: uuid.UUID
    account: Account
    order_id: uuid.UUID | None
    amount: SignedMoney = Field(description="Positive into the account, negative out of it")
    created_at: datetime


class PayoutCreate(RequestSchema):
    amount: MoneyAboveZero


class PayoutRead(Schema):
    id: uuid.UUID
    amount: Money
    status: PayoutStatus
    failure_reason: str | None
    created_at: datetime
    settled_at: datetime | None


class Violation(Schema):
    check: str
    detail: str


class ReconcileReport(Schema):
    ok: bool
    checked_at: datetime
    violations: list[Violation]
