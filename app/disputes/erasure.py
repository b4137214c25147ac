"""Disputes' part in deleting an account (asked by privacy): whether returns or disputes still
need the person or their shop. Their texts and evidence stay, tied to the deleted account."""

import uuid

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.disputes.models import Dispute, DisputeStatus, ReturnRequest, ReturnStatus

# A return in one of these states still needs its buyer and seller.
OPEN_RETURN_STATES = (ReturnStatus.requested, ReturnStatus.approved, ReturnStatus.shipped_back)


async def open_business(
    session: AsyncSession, *, user_id: uuid.UUID, shop_id: uuid.UUID | None
) -> list[str]:
    """The returns and disputes still open with the person as buyer or their shop as seller,
    as "<count> <kind>" phrases (returns first); empty when there are none."""

    def party(model: type[ReturnRequest] | type[Dispute]) -> ColumnElement[bool]:
        return or_(model.buyer_id == user_id, model.seller_id == shop_id)

    checks = {
        "returns in progress": select(func.count())
        .select_from(ReturnRequest)
        .where(party(ReturnRequest), ReturnRequest.status.in_(OPEN_RETURN_STATES)),
        "unresolved disputes": select(func.count())
        .select_from(Dispute)
        .where(party(Dispute), Dispute.status != DisputeStatus.resolved),
    }
    found = []
    for kind, statement in checks.items():
        if count := await session.scalar(statement):
            found.append(f"{count} {kind}")
    return found
