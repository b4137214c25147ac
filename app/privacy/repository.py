"""The privacy queries: they read across every domain's tables, driven by PERSONAL_DATA."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.disputes.models import Dispute, DisputeStatus, ReturnRequest, ReturnStatus
from app.messaging.notifications.models import Notification
from app.messaging.webhooks.models import WebhookEndpoint
from app.models_registry import metadata
from app.orders.models import CartItem, Order, OrderStatus
from app.privacy.personal_data import OwnerKind, PersonalTable

# An order, return or dispute in one of these states still needs its buyer and seller.
OPEN_ORDER_STATES = (
    OrderStatus.pending_payment,
    OrderStatus.paid,
    OrderStatus.shipped,
    OrderStatus.disputed,
)
OPEN_RETURN_STATES = (ReturnStatus.requested, ReturnStatus.approved, ReturnStatus.shipped_back)
# ... and in these, a buyer may still return or dispute it until its deadlines.
SETTLED_ORDER_STATES = (OrderStatus.completed, OrderStatus.partially_refunded)

ERASED_ADDRESS_FIELDS: dict[str, Any] = {
    "name": "Deleted user",
    "line1": "deleted",
    "line2": None,
    "city": "deleted",
    "postal_code": "deleted",
    "region": None,
    "phone": None,
}


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows_of(
        self, entry: PersonalTable, user_id: uuid.UUID, shop_id: uuid.UUID | None
    ) -> Sequence[dict[str, Any]]:
        """The rows of `entry`'s table tied to the person, in creation order where known."""
        table: Table = metadata.tables[entry.name]
        ties = []
        for owner in entry.owners:
            person = user_id if owner.kind is OwnerKind.user else shop_id
            if person is None:
                continue  # no shop, so nothing tied through one
            tie = table.c[owner.column] == person
            ties.append(tie if owner.only_when is None else tie & owner.only_when(table))
        if not ties:
            return []
        order = [table.c.created_at] if "created_at" in table.c else []
        statement = select(table).where(or_(*ties)).order_by(*order, *table.primary_key)
        return [dict(row) for row in (await self.session.execute(statement)).mappings()]

    async def business_in_progress(
        self, user_id: uuid.UUID, shop_id: uuid.UUID | None, at: datetime
    ) -> list[str]:
        """What still needs the person, as "<count> <kind>" phrases; empty when nothing does.
        A shop is also needed while its buyers may still return or dispute a completed order
        (a refund then comes out of the shop's proceeds)."""

        def party(model: type[Order] | type[ReturnRequest] | type[Dispute]) -> Any:
            return or_(model.buyer_id == user_id, model.seller_id == shop_id)

        checks = {
            "open orders": select(func.count())
            .select_from(Order)
            .where(party(Order), Order.status.in_(OPEN_ORDER_STATES)),
            "returns in progress": select(func.count())
            .select_from(ReturnRequest)
            .where(party(ReturnRequest), ReturnRequest.status.in_(OPEN_RETURN_STATES)),
            "unresolved disputes": select(func.count())
            .select_from(Dispute)
            .where(party(Dispute), Dispute.status != DisputeStatus.resolved),
            "sold orders still open to a return or dispute": select(func.count())
            .select_from(Order)
            .where(
                Order.seller_id == shop_id,
                Order.status.in_(SETTLED_ORDER_STATES),
                or_(Order.return_deadline > at, Order.dispute_deadline > at),
            ),
        }
        found = []
        for kind, statement in checks.items():
            count = int(await self.session.scalar(statement) or 0)
            if count:
                found.append(f"{count} {kind}")
        return found

    async def erase_buyer_traces(self, user_id: uuid.UUID) -> None:
        """The cart and notifications go; the addresses on the person's orders are erased
        (the orders stay, for the sellers' books and the ledger)."""
        await self.session.execute(delete(CartItem).where(CartItem.buyer_id == user_id))
        await self.session.execute(delete(Notification).where(Notification.user_id == user_id))
        orders = (await self.session.scalars(select(Order).where(Order.buyer_id == user_id))).all()
        for order in orders:
            order.shipping_address = {
                **ERASED_ADDRESS_FIELDS,
                "country": order.shipping_address.get("country"),
            }

    async def delete_webhooks(self, shop_id: uuid.UUID) -> None:
        """A closed shop's integration goes: its endpoints (URLs, secrets) and, with them,
        their deliveries (the foreign key cascades)."""
        await self.session.execute(
            delete(WebhookEndpoint).where(WebhookEndpoint.seller_id == shop_id)
        )
