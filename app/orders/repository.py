import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from app.auth.models import User
from app.auth.principal import Principal, any_of, party_conditions
from app.core.repository import RepositoryBase
from app.orders.models import (
    CartItem,
    Checkout,
    CheckoutStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from app.sellers.models import SellerProfile

SHOWN: tuple[LoaderOption, ...] = (
    selectinload(Order.lines),
    joinedload(Order.buyer, innerjoin=True),
    joinedload(Order.shop, innerjoin=True),
)
"""What an order's screen reads with it: its lines (each with its listing's first image) and
the parties' names."""

_HEX_PREFIX = re.compile(r"^[0-9a-f-]{4,36}$")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class OrderFilters:
    """The filters of the orders list, combinable with each other and with the role."""

    statuses: tuple[OrderStatus, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None

    def apply(self, statement: Select[Order], principal: Principal) -> Select[Order]:
        if self.statuses:
            statement = statement.where(Order.status.in_(self.statuses))
        if self.created_after is not None:
            statement = statement.where(Order.created_at >= self.created_after)
        if self.created_before is not None:
            statement = statement.where(Order.created_at < self.created_before)
        if self.q:
            statement = statement.where(_matches(self.q, principal))
        return statement


def _matches(q: str, principal: Principal) -> ColumnElement[bool]:
    """An order matching a search: its id starts with `q` (a range on the primary key), or a
    line's title or the other party's name (the shop's for the buyer, the buyer's display
    name for the shop) contains it, any case. The text match runs only over the caller's own
    orders, which their (party, id) index finds first."""
    needle = f"%{_escape_like(q.lower())}%"
    conditions: list[ColumnElement[bool]] = [
        exists().where(
            OrderLine.order_id == Order.id,
            func.lower(OrderLine.title).like(needle, escape="\\"),
        ),
        exists().where(
            User.id == Order.buyer_id,
            User.id != principal.user_id,
            func.lower(User.display_name).like(needle, escape="\\"),
        ),
        exists().where(
            SellerProfile.id == Order.seller_id,
            SellerProfile.user_id != principal.user_id,
            func.lower(SellerProfile.shop_name).like(needle, escape="\\"),
        ),
    ]
    prefix = q.lower()
    if _HEX_PREFIX.match(prefix):
        digits = prefix.replace("-", "")
        if 0 < len(digits) <= 32:
            low = uuid.UUID(digits.ljust(32, "0"))
            high = uuid.UUID(digits.ljust(32, "f"))
            conditions.append(Order.id.between(low, high))
    return or_(*conditions)


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
            _REMOVE_FROM_CART, {"buyer_id": buyer_id, "listing_ids": listing_ids}
        )
        return int(getattr(result, "rowcount", 0) or 0)


# Built once: every checkout takes what it bought out of the cart. No request uses a cart
# item after removing it, so the session's copies (if any) need not be brought up to date.
_REMOVE_FROM_CART = (
    delete(CartItem)
    .where(
        CartItem.buyer_id == bindparam("buyer_id"),
        CartItem.listing_id.in_(bindparam("listing_ids", expanding=True)),
    )
    .execution_options(synchronize_session=False)
)


def _checkout_with_orders(*conditions: ColumnElement[bool]) -> Select[Checkout]:
    """The checkout with its orders as their screens show them, in one statement (inner
    joins: a checkout always has orders, an order lines), so its cost does not grow with
    the number of orders."""
    return (
        select(Checkout)
        .where(*conditions)
        .options(
            joinedload(Checkout.orders, innerjoin=True).options(
                joinedload(Order.lines, innerjoin=True),
                joinedload(Order.buyer, innerjoin=True),
                joinedload(Order.shop, innerjoin=True),
            )
        )
        .execution_options(populate_existing=True)
    )


# Built once: pay reads one on every call, and building the loader options cost more than
# running the query.
_CHECKOUT = _checkout_with_orders(Checkout.id == bindparam("checkout_id"))
_BUYERS_CHECKOUT = _checkout_with_orders(
    Checkout.id == bindparam("checkout_id"), Checkout.buyer_id == bindparam("buyer_id")
)
_BUYERS_CHECKOUT_LOCKED = _BUYERS_CHECKOUT.with_for_update(of=Checkout)


class CheckoutRepository(RepositoryBase[Checkout]):
    model = Checkout

    async def get_with_orders(self, checkout_id: uuid.UUID) -> Checkout | None:
        return await self._one_with_orders(_CHECKOUT, {"checkout_id": checkout_id})

    async def get_visible(
        self, principal: Principal, checkout_id: uuid.UUID, *, lock: bool
    ) -> Checkout | None:
        """One of the caller's checkouts: only its buyer sees it, and an API key buys
        nothing, so it sees none."""
        if not principal.acts_as_buyer:
            return None
        statement = _BUYERS_CHECKOUT_LOCKED if lock else _BUYERS_CHECKOUT
        return await self._one_with_orders(
            statement, {"checkout_id": checkout_id, "buyer_id": principal.user_id}
        )

    async def _one_with_orders(
        self, statement: Select[Checkout], parameters: dict[str, uuid.UUID]
    ) -> Checkout | None:
        found = await self.session.scalars(statement, parameters)
        return found.unique().one_or_none()

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
        return select(Order).where(any_of(held)).options(*SHOWN)

    def visible_to(self, principal: Principal) -> Select[Order]:
        """Orders the caller may open: their own, or any for an admin."""
        if principal.is_admin:
            return select(Order).options(*SHOWN)
        return self.of_party(principal)

    async def count_by_status(
        self, principal: Principal, role: str | None
    ) -> dict[OrderStatus, int]:
        """{status: how many of the caller's orders}, in one GROUP BY (absent: none)."""
        sides = party_conditions(principal, buyer=Order.buyer_id, seller=Order.seller_id)
        held = [condition for side, condition in sides.items() if role in (None, side)]
        statement = select(Order.status, func.count()).where(any_of(held)).group_by(Order.status)
        return {row[0]: row[1] for row in await self.session.execute(statement)}

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

    def due_for_undelivered_refund(self, at: datetime) -> Select[Order]:
        return select(Order).where(Order.status == OrderStatus.shipped, Order.auto_refund_at <= at)

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
