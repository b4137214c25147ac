"""Orders' part in deleting an account (asked by privacy): whether orders still need the person
or their shop, and erasing what a deleted buyer leaves behind. The orders themselves stay, for
the other party's books and the ledger."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.orders.models import CartItem, Order, OrderStatus

# An order in one of these states still needs its buyer and seller ...
OPEN_ORDER_STATES = (
    OrderStatus.pending_payment,
    OrderStatus.paid,
    OrderStatus.shipped,
    OrderStatus.disputed,
)
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


async def open_business(
    session: AsyncSession, *, user_id: uuid.UUID, shop_id: uuid.UUID | None
) -> list[str]:
    """The orders still open with the person as buyer or their shop as seller, as
    ["<count> open orders"]; empty when there are none."""
    statement = (
        select(func.count())
        .select_from(Order)
        .where(
            or_(Order.buyer_id == user_id, Order.seller_id == shop_id),
            Order.status.in_(OPEN_ORDER_STATES),
        )
    )
    return _counted(await session.scalar(statement), "open orders")


async def sales_open_to_claims(
    session: AsyncSession, shop_id: uuid.UUID, *, at: datetime
) -> list[str]:
    """The shop's settled sales a buyer may still return or dispute at `at` (a refund would
    then come out of the shop's proceeds), as ["<count> sold orders still open to a return
    or dispute"]; empty when there are none."""
    statement = (
        select(func.count())
        .select_from(Order)
        .where(
            Order.seller_id == shop_id,
            Order.status.in_(SETTLED_ORDER_STATES),
            or_(Order.return_deadline > at, Order.dispute_deadline > at),
        )
    )
    count = await session.scalar(statement)
    return _counted(count, "sold orders still open to a return or dispute")


async def erase_buyer_traces(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The cart goes; the addresses on the person's orders are erased but for the country
    (the orders stay)."""
    await session.execute(delete(CartItem).where(CartItem.buyer_id == user_id))
    orders = (await session.scalars(select(Order).where(Order.buyer_id == user_id))).all()
    for order in orders:
        order.shipping_address = {
            **ERASED_ADDRESS_FIELDS,
            "country": order.shipping_address.get("country"),
        }


def _counted(count: int | None, kind: str) -> list[str]:
    return [f"{count} {kind}"] if count else []
