import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, false, select
from sqlalchemy.orm import selectinload

from app.auth.principal import Principal, any_of, party_conditions
from app.core.repository import RepositoryBase
from app.orders.models import (
    CartItem,
    Checkout,
    CheckoutStatus,
    Order,
    OrderEvent,
    OrderStatus,
)


class CartRepository(RepositoryBase[CartItem]):
    model = CartItem

    async def items(self, buyer_id: uuid.UUID) -> list[CartItem]:
        statement = select(CartItem).where(CartItem.buyer_id == buyer_id).order_by(CartItem.id)
        return list((await self.session.scalars(statement)).all())

    async def find(self, buyer_id: uuid.UUID, listing_id: uuid.UUID) -> CartItem | None:
        return await self.get_one_or_none(
            select(CartItem).where(CartItem.buyer_id == buyer_id, CartItem.listing_id == listing_id)
        )

    async def remove(self, buyer_id: uuid.UUID, listing_ids: list[uuid.UUID]) -> int:
        result = await self.session.execute(
            delete(CartItem).where(
                CartItem.buyer_id == buyer_id, CartItem.listing_id.in_(listing_ids)
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


class CheckoutRepository(RepositoryBase[Checkout]):
    model = Checkout

    async def get_with_orders(
        self, checkout_id: uuid.UUID, *, lock: bool = False
    ) -> Checkout | None:
        return await self._one_with_orders(Checkout.id == checkout_id, lock=lock)

    async def get_visible(
        self, principal: Principal, checkout_id: uuid.UUID, *, lock: bool
    ) -> Checkout | None:
        """One of the caller's checkouts (decided in the query): only its buyer sees it, and
        an API key buys nothing, so it sees none."""
        owned = Checkout.buyer_id == principal.user_id if principal.acts_as_buyer else false()
        return await self._one_with_orders(Checkout.id == checkout_id, owned, lock=lock)

    async def _one_with_orders(
        self, *conditions: ColumnElement[bool], lock: bool
    ) -> Checkout | None:
        statement = (
            select(Checkout)
            .where(*conditions)
            .options(selectinload(Checkout.orders).selectinload(Order.lines))
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=Checkout)
        return await self.get_one_or_none(statement)

    def due_for_expiry(self, at: datetime) -> Select[Checkout]:
        return select(Checkout).where(
            Checkout.status == CheckoutStatus.pending_payment, Checkout.expires_at <= at
        )


class OrderRepository(RepositoryBase[Order]):
    model = Order

    async def get_with_lines(self, order_id: uuid.UUID, *, lock: bool = False) -> Order | None:
        statement = (
            select(Order)
            .where(Order.id == order_id)
            .options(selectinload(Order.lines))
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=Order)
        return await self.get_one_or_none(statement)

    def of_party(self, principal: Principal, role: str | None = None) -> Select[Order]:
        """Orders the caller is a party to: as buyer, as seller, or either (`role`); an API
        key acts for its shop only, so it sees the shop's sales and no purchases."""
        sides = party_conditions(principal, buyer=Order.buyer_id, seller=Order.seller_id)
        held = [condition for side, condition in sides.items() if role in (None, side)]
        return select(Order).where(any_of(held)).options(selectinload(Order.lines))

    def visible_to(self, principal: Principal) -> Select[Order]:
        """Orders the caller may open: their own, or any for an admin."""
        if principal.is_admin:
            return select(Order).options(selectinload(Order.lines))
        return self.of_party(principal)

    async def get_visible(
        self, principal: Principal, order_id: uuid.UUID, *, lock: bool
    ) -> Order | None:
        """One order, only if the caller may see it (decided in the query)."""
        statement = (
            self.visible_to(principal)
            .where(Order.id == order_id)
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=Order)
        return await self.get_one_or_none(statement)

    def ids_in(self, statuses: Collection[OrderStatus]) -> Select[uuid.UUID]:
        return select(Order.id).where(Order.status.in_(statuses))

    def ids_not_in(self, status: OrderStatus) -> Select[uuid.UUID]:
        return select(Order.id).where(Order.status != status)

    def due_for_completion_reminder(self, at: datetime, lead: timedelta) -> Select[Order]:
        return select(Order).where(
            Order.status == OrderStatus.shipped,
            Order.auto_complete_at > at,  # completing now: too late to remind
            Order.auto_complete_at <= at + lead,
            Order.completion_reminder_sent_at.is_(None),
        )

    def due_for_auto_complete(self, at: datetime) -> Select[Order]:
        return select(Order).where(
            Order.status == OrderStatus.shipped, Order.auto_complete_at <= at
        )

    def due_for_fund_release(self, at: datetime) -> Select[Order]:
        # A disputed order's proceeds are frozen; its hold ends once the dispute is over.
        return select(Order).where(
            Order.funds_release_at <= at, Order.status != OrderStatus.disputed
        )

    async def events(self, order_id: uuid.UUID) -> list[OrderEvent]:
        statement = (
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def subject_events(self, subject_id: uuid.UUID) -> list[OrderEvent]:
        statement = (
            select(OrderEvent).where(OrderEvent.subject_id == subject_id).order_by(OrderEvent.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def totals(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        statement = select(Order.id, Order.total_amount).where(Order.id.in_(order_ids))
        return {row.id: row.total_amount for row in await self.session.execute(statement)}
