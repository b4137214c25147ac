import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app.core.repository import RepositoryBase
from app.disputes.models import (
    Dispute,
    DisputeReason,
    DisputeStatus,
    Evidence,
    ReturnRequest,
    ReturnStatus,
)

# A return the seller still has to decide on, or the buyer still has to send. Once the goods
# are on their way back, a seller who never confirms receipt can be disputed.
_RETURN_IN_PROGRESS = (ReturnStatus.requested, ReturnStatus.approved)


class ReturnRepository(RepositoryBase[ReturnRequest]):
    model = ReturnRequest

    async def get_with_items(
        self, return_id: uuid.UUID, *, lock: bool = False
    ) -> ReturnRequest | None:
        statement = (
            select(ReturnRequest)
            .where(ReturnRequest.id == return_id)
            .options(selectinload(ReturnRequest.items))
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=ReturnRequest)
        return await self.get_one_or_none(statement)

    async def of_order(self, order_id: uuid.UUID) -> ReturnRequest | None:
        return await self.get_one_or_none(
            select(ReturnRequest).where(ReturnRequest.order_id == order_id)
        )

    async def in_progress_for(self, order_id: uuid.UUID) -> bool:
        statement = select(ReturnRequest.id).where(
            ReturnRequest.order_id == order_id, ReturnRequest.status.in_(_RETURN_IN_PROGRESS)
        )
        return (await self.session.scalar(statement)) is not None

    def due_for_auto_approval(self, at: datetime) -> Select[ReturnRequest]:
        return select(ReturnRequest).where(
            ReturnRequest.status == ReturnStatus.requested, ReturnRequest.respond_by <= at
        )


class DisputeRepository(RepositoryBase[Dispute]):
    model = Dispute

    async def get_detailed(self, dispute_id: uuid.UUID, *, lock: bool = False) -> Dispute | None:
        statement = (
            select(Dispute)
            .where(Dispute.id == dispute_id)
            .options(selectinload(Dispute.messages))
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=Dispute)
        return await self.get_one_or_none(statement)

    async def exists_for(self, order_id: uuid.UUID) -> bool:
        statement = select(Dispute.id).where(Dispute.order_id == order_id)
        return (await self.session.scalar(statement)) is not None

    def due_for_auto_resolution(self, at: datetime) -> Select[Dispute]:
        return select(Dispute).where(
            Dispute.status.in_((DisputeStatus.open, DisputeStatus.awaiting_seller)),
            Dispute.respond_by <= at,
        )

    def queue(self, status: DisputeStatus | None, reason: DisputeReason | None) -> Select[Dispute]:
        statement = select(Dispute)
        if status is not None:
            statement = statement.where(Dispute.status == status)
        if reason is not None:
            statement = statement.where(Dispute.reason == reason)
        return statement

    async def evidence_of(self, dispute_id: uuid.UUID) -> list[Evidence]:
        statement = select(Evidence).where(Evidence.dispute_id == dispute_id).order_by(Evidence.id)
        return list((await self.session.scalars(statement)).all())
