import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.auth.principal import PartySide, Principal, any_of, party_conditions
from app.core.pagination import PageParams, SortKey, paginate
from app.core.repository import RepositoryBase
from app.disputes.models import (
    Dispute,
    DisputeReason,
    DisputeStatus,
    Evidence,
    ReturnRequest,
    ReturnStatus,
)
from app.logistics.models import Shipment
from app.orders.models import Order, OrderLine
from app.sellers.models import SellerProfile

# A return the seller still has to decide on, or the buyer still has to send. Once the goods
# are on their way back, a seller who never confirms receipt can be disputed.
_RETURN_IN_PROGRESS = (ReturnStatus.requested, ReturnStatus.approved)

PartiesT = TypeVar("PartiesT", ReturnRequest, Dispute)


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a screen shows of a return's or dispute's order beside it."""

    shop_name: str
    buyer_display_name: str
    order_total: int
    """The order's total, minor units of the subject's currency."""


# Selected after the subject, in this order, by every read that shows an `OrderContext`.
_CONTEXT_COLUMNS = (SellerProfile.shop_name, User.display_name, Order.total_amount)


def context_of(row: Sequence[Any]) -> OrderContext:
    """The `OrderContext` of a row selected with `with_context` (subject first)."""
    return OrderContext(shop_name=row[1], buyer_display_name=row[2], order_total=row[3])


class _OfOrderParties(RepositoryBase[PartiesT]):
    """Returns and disputes: seen by their order's buyer and seller, and by admins."""

    detail: ClassVar[Any]
    """The relationship an answer shows, loaded with the row."""

    def with_context(self, statement: Select[Any]) -> Select[Any]:
        """`statement` (selecting the subject) with its order's context, in the same query."""
        return (
            statement.add_columns(*_CONTEXT_COLUMNS)
            .join(SellerProfile, SellerProfile.id == self.model.seller_id)
            .join(User, User.id == self.model.buyer_id)
            .join(Order, Order.id == self.model.order_id)
        )

    async def context(self, subject: PartiesT) -> OrderContext:
        statement = self.with_context(select(self.model).where(self.model.id == subject.id))
        return context_of((await self.session.execute(statement)).one())

    def of_party(
        self,
        principal: Principal,
        *,
        role: PartySide | None,
        statuses: Collection[str],
        order_id: uuid.UUID | None,
    ) -> Select[Any]:
        """The caller's own (as buyer, as seller, or either: `role`), filtered, each with its
        order's context: one query per page."""
        sides = party_conditions(principal, buyer=self.model.buyer_id, seller=self.model.seller_id)
        held = [condition for side, condition in sides.items() if role in (None, side)]
        statement = select(self.model).where(any_of(held))
        if statuses:
            statement = statement.where(self.model.status.in_(statuses))
        if order_id is not None:
            statement = statement.where(self.model.order_id == order_id)
        return self.with_context(statement)

    async def page_of_party(
        self,
        principal: Principal,
        *,
        role: PartySide | None,
        statuses: Collection[str],
        order_id: uuid.UUID | None,
        page: PageParams,
    ) -> tuple[Sequence[Row[Any]], str | None]:
        """One page of `of_party`, newest first. A shop's integration (an API key) sees the
        shop's, whichever side it asks for."""
        if not principal.acts_as_buyer:
            role = "seller"
        statement = self.of_party(principal, role=role, statuses=statuses, order_id=order_id)
        return await paginate(
            self.session, statement, keys=[SortKey(self.model.id, descending=True)], page=page
        )

    def visible_to(self, principal: Principal) -> Select[PartiesT]:
        """Those the caller may open: their own (an API key acts for its shop only, so it
        sees the shop's and none of its owner's purchases), or any for an admin."""
        statement: Select[PartiesT] = select(self.model)
        if principal.is_admin:
            return statement
        sides = party_conditions(principal, buyer=self.model.buyer_id, seller=self.model.seller_id)
        return statement.where(any_of(list(sides.values())))

    async def get_visible(
        self, principal: Principal, id_: uuid.UUID, *, lock: bool
    ) -> PartiesT | None:
        """One, with its detail, only if the caller may see it (decided in the query)."""
        statement = (
            self.visible_to(principal)
            .where(self.model.id == id_)
            # From the class: through an instance, a mapped attribute looks for its row.
            .options(selectinload(type(self).detail))
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=self.model)
        return await self.get_one_or_none(statement)


class ReturnRepository(_OfOrderParties[ReturnRequest]):
    model = ReturnRequest
    detail = ReturnRequest.items

    async def get_with_items(self, return_id: uuid.UUID) -> ReturnRequest | None:
        statement = (
            select(ReturnRequest)
            .where(ReturnRequest.id == return_id)
            .options(selectinload(ReturnRequest.items))
            .execution_options(populate_existing=True)
        )
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

    async def lines(self, line_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, OrderLine]:
        """The order lines a return sends back, by id (their listing and title)."""
        statement = select(OrderLine).where(OrderLine.id.in_(line_ids))
        return {line.id: line for line in (await self.session.scalars(statement)).all()}

    def due_for_auto_receipt(self, delivered_before: datetime) -> Select[ReturnRequest]:
        """Returns shipped back whose parcel the carrier delivered before that instant."""
        delivered = select(Shipment.return_id).where(
            Shipment.return_id.is_not(None),
            Shipment.delivered_at <= delivered_before,
            # A delivery dated before the buyer gave the number cannot be this parcel's.
            Shipment.delivered_at >= Shipment.tracking_since,
        )
        return select(ReturnRequest).where(
            ReturnRequest.status == ReturnStatus.shipped_back, ReturnRequest.id.in_(delivered)
        )

    def due_for_auto_approval(self, at: datetime) -> Select[ReturnRequest]:
        return select(ReturnRequest).where(
            ReturnRequest.status == ReturnStatus.requested, ReturnRequest.respond_by <= at
        )


class DisputeRepository(_OfOrderParties[Dispute]):
    model = Dispute
    detail = Dispute.messages

    async def exists_for(self, order_id: uuid.UUID) -> bool:
        statement = select(Dispute.id).where(Dispute.order_id == order_id)
        return (await self.session.scalar(statement)) is not None

    def due_for_auto_resolution(self, at: datetime) -> Select[Dispute]:
        return select(Dispute).where(
            Dispute.status.in_((DisputeStatus.open, DisputeStatus.awaiting_seller)),
            Dispute.respond_by <= at,
        )

    def queue(self, status: DisputeStatus | None, reason: DisputeReason | None) -> Select[Any]:
        """The admin queue's disputes, each with its order's context."""
        statement = select(Dispute)
        if status is not None:
            statement = statement.where(Dispute.status == status)
        if reason is not None:
            statement = statement.where(Dispute.reason == reason)
        return self.with_context(statement)

    async def evidence_of(self, dispute_id: uuid.UUID) -> list[Evidence]:
        statement = select(Evidence).where(Evidence.dispute_id == dispute_id).order_by(Evidence.id)
        return list((await self.session.scalars(statement)).all())
