"""The payment provider interface and the built-in sandbox.

Every call carries a `reference` that is unique per intended money movement, so a provider
never moves money twice for one reference (real providers call it an idempotency key).

Sandbox test tokens for `capture`:

| token | outcome |
|---|---|
| `tok_success` | captured |
| `tok_declined` | 402 `payment_declined` |
| `tok_insufficient_funds` | 402 `insufficient_funds` |
| `tok_provider_error` | 502 `payment_provider_error` (nothing recorded; retry is safe) |

Sandbox payouts fail when the seller's payout account ends in `FAIL`.
"""

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.core.errors import AppError
from app.core.ids import uuid7
from app.core.repository import prebuilt_insert
from app.payments.exceptions import (
    InsufficientFunds,
    InvalidPaymentToken,
    PaymentDeclined,
    PaymentProviderError,
)
from app.payments.models import ProviderOperation, ProviderOperationKind


class PaymentProvider(Protocol):
    async def capture(
        self, session: AsyncSession, *, token: str, amount: int, currency: str, reference: str
    ) -> str:
        """Take `amount` from the buyer; returns the provider's charge id or raises."""
        ...

    async def refund(
        self, session: AsyncSession, *, amount: int, currency: str, reference: str
    ) -> str:
        """Give `amount` back to the buyer of an earlier capture."""
        ...

    async def payout(
        self, session: AsyncSession, *, account: str, amount: int, currency: str, reference: str
    ) -> bool:
        """Send money to a seller's bank account; False when the bank refused it."""
        ...


_DECLINES: dict[str, type[AppError]] = {
    "tok_declined": PaymentDeclined,
    "tok_insufficient_funds": InsufficientFunds,
    "tok_provider_error": PaymentProviderError,
}


# Built once: every payment, refund and payout records one. The same reference is the same
# operation (idempotent): a duplicate is skipped.
_RECORD = prebuilt_insert(
    ProviderOperation,
    ("id", "kind", "reference", "amount", "currency", "succeeded", "created_at"),
    lambda insert: insert.on_conflict_do_nothing(
        index_elements=[ProviderOperation.reference]
    ).returning(ProviderOperation.id),
)


class SandboxProvider:
    """Deterministic test double of a payment provider. Its book (`provider_operations`)
    lives in our database and in our transaction, so a rolled-back request leaves no charge
    behind, as a real provider's void or idempotent retry would."""

    async def _record(
        self,
        session: AsyncSession,
        kind: ProviderOperationKind,
        *,
        amount: int,
        currency: str,
        reference: str,
        succeeded: bool = True,
    ) -> str:
        # One statement; a duplicate answers nothing, and the first one's id is read.
        recorded = await _RECORD.scalar(
            session,
            id=uuid7(),
            kind=kind,
            reference=reference,
            amount=amount,
            currency=currency,
            succeeded=succeeded,
            created_at=now(),
        )
        if recorded is None:
            recorded = await session.scalar(
                select(ProviderOperation.id).where(ProviderOperation.reference == reference)
            )
        return str(recorded)

    async def capture(
        self, session: AsyncSession, *, token: str, amount: int, currency: str, reference: str
    ) -> str:
        if token in _DECLINES:
            raise _DECLINES[token]()
        if token != "tok_success":
            raise InvalidPaymentToken(
                "sandbox tokens: tok_success, tok_declined, tok_insufficient_funds, "
                "tok_provider_error"
            )
        return await self._record(
            session,
            ProviderOperationKind.capture,
            amount=amount,
            currency=currency,
            reference=reference,
        )

    async def refund(
        self, session: AsyncSession, *, amount: int, currency: str, reference: str
    ) -> str:
        return await self._record(
            session,
            ProviderOperationKind.refund,
            amount=amount,
            currency=currency,
            reference=reference,
        )

    async def payout(
        self, session: AsyncSession, *, account: str, amount: int, currency: str, reference: str
    ) -> bool:
        succeeded = not account.upper().endswith("FAIL")
        await self._record(
            session,
            ProviderOperationKind.payout,
            amount=amount,
            currency=currency,
            reference=reference,
            succeeded=succeeded,
        )
        return succeeded
