import uuid
from typing import Annotated

from fastapi import Depends, Query, Request

from app.core.schemas import Rfc3339
from app.payments.models import LedgerEntryType
from app.payments.provider import PaymentProvider
from app.payments.schemas import LedgerFilters


async def get_payment_provider(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


Provider = Annotated[PaymentProvider, Depends(get_payment_provider)]


async def _ledger_filters(
    created_after: Annotated[
        Rfc3339 | None,
        Query(description="Entries at or after this moment (RFC 3339, with its offset)"),
    ] = None,
    created_before: Annotated[
        Rfc3339 | None,
        Query(description="Entries strictly before this moment (RFC 3339, with its offset)"),
    ] = None,
    order_id: Annotated[uuid.UUID | None, Query(description="Entries of this order")] = None,
    payout_id: Annotated[uuid.UUID | None, Query(description="Entries of this payout")] = None,
    entry_type: Annotated[
        list[LedgerEntryType] | None,
        Query(max_length=len(LedgerEntryType), description="Any of these types (repeatable)"),
    ] = None,
) -> LedgerFilters:
    return LedgerFilters(
        created_after=created_after,
        created_before=created_before,
        order_id=order_id,
        payout_id=payout_id,
        entry_types=frozenset(entry_type or ()),
    )


LedgerFilterQuery = Annotated[LedgerFilters, Depends(_ledger_filters)]
"""The filters a seller's statement takes, the same for its JSON pages and its CSV."""
