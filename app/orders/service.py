"""Order use cases: transitions through the state machine with their timeline events,
escrow release and refunds, and the worker's time-based steps."""

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.catalog import service as catalog_service
from app.config import Settings
from app.core import outbox
from app.core.clock import now
from app.core.events import EventType
from app.core.guards import Guarded
from app.core.pagination import PageParams, SortKey, paginate
from app.fees.commission import HUNDREDTHS, CommissionTerms, hundredths, round_half_up
from app.orders import related
from app.orders.events import SUBJECT_ID_KEY, OrderEventType
from app.orders.exceptions import OrderNotFound
from app.orders.models import (
    Checkout,
    CheckoutStatus,
    EventSubject,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from app.orders.repository import CheckoutRepository, OrderFilters, OrderRepository
from app.orders.state import ORDER_LIFECYCLE, OrderAction, OrderActor
from app.payments import reconcile
from app.payments import service as payments
from app.payments.provider import PaymentProvider
from app.payments.schemas import ReconcileReport
from app.promotions import service as promotions

# Which role an event names when the caller holds several (an admin buying, say).
_ROLE_PRIORITY = (OrderActor.system, OrderActor.buyer, OrderActor.seller, OrderActor.admin)

EXPIRED_REASON = "expired: payment not received in time"
"""The cancel reason of an order whose checkout expired unpaid."""

SYSTEM = frozenset({OrderActor.system})
"""The roles of the platform's own steps: payment, expiry, auto-completion."""


class Parties(Protocol):
    """An order, or a return or dispute of one: who bought and who sold."""

    buyer_id: uuid.UUID
    seller_id: uuid.UUID


def roles_of(subject: Parties, principal: Principal) -> frozenset[OrderActor]:
    """The caller's roles on an order, or on a return or dispute of one."""
    roles: set[OrderActor] = set()
    if principal.acts_as_buyer and subject.buyer_id == principal.user_id:
        roles.add(OrderActor.buyer)
    if principal.shop_id is not None and subject.seller_id == principal.shop_id:
        roles.add(OrderActor.seller)
    if principal.is_admin:
        roles.add(OrderActor.admin)
    return frozenset(roles)


def acting_role(actors: AbstractSet[OrderActor]) -> OrderActor:
    return min(actors, key=_ROLE_PRIORITY.index)


def _step(
    order: Order,
    action: OrderAction,
    actors: AbstractSet[OrderActor],
    *,
    actor_id: uuid.UUID | None,
    details: dict[str, Any] | None,
    acting_for: OrderActor | None,
) -> tuple[OrderStatus, OrderEvent, outbox.Emission | None]:
    """Moves the order by the table and returns its previous state, its timeline entry and
    the event it announces if any (neither written yet)."""
    before = order.status
    order.status = ORDER_LIFECYCLE.target(before, action, actors, order)
    permitted = actors & ORDER_LIFECYCLE.table[(before, action)].actors
    role = (acting_for or acting_role(permitted)).value
    change = (before.value, order.status.value)
    entry = _timeline_entry(
        order.id,
        EventSubject.order,
        None,
        action=action.value,
        actor_role=role,
        actor_id=actor_id,
        change=change,
        details=details,
    )
    event = ORDER_LIFECYCLE.event_of(before, action, order.status)
    announced = (
        None
        if event is None
        else _announcement(
            order, event, actor_role=role, actor_id=actor_id, change=change, details=details or {}
        )
    )
    return before, entry, announced


async def transition(
    session: AsyncSession,
    order: Order,
    action: OrderAction,
    actors: AbstractSet[OrderActor],
    *,
    actor_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
    acting_for: OrderActor | None = None,
) -> OrderStatus:
    """The one way an order changes state: the table decides the next state and the event it
    announces, written in the same transaction. Callers hold the order's row lock.
    `acting_for`: the party the timeline names when the platform carries out their act (the
    payment is the buyer's, though only the system may move an order to `paid`)."""
    before, entry, announced = _step(
        order, action, actors, actor_id=actor_id, details=details, acting_for=acting_for
    )
    if order.status is not OrderStatus.shipped:
        # Only a shipped order waits for its lost parcel's refund: once confirmed, disputed
        # or settled, the date would promise a refund that never comes.
        order.auto_refund_at = None
    session.add(entry)
    await outbox.emit_all(session, [announced] if announced else [])
    await session.flush()  # no event to emit: the entry and the order's state still go now
    return before


async def transition_all(
    session: AsyncSession,
    orders: Sequence[Order],
    action: OrderAction,
    actors: AbstractSet[OrderActor],
    *,
    actor_id: uuid.UUID | None,
    acting_for: OrderActor | None = None,
) -> None:
    """`transition` for several orders at once (a checkout's), written together: one insert
    of timeline entries, one of events, one update of the orders, whatever their number.
    Set anything else the orders change before calling, so it rides the same update."""
    steps = [
        _step(order, action, actors, actor_id=actor_id, details=None, acting_for=acting_for)
        for order in orders
    ]
    session.add_all(entry for _, entry, _ in steps)
    await outbox.emit_all(session, [announced for _, _, announced in steps if announced])
    await session.flush()


async def announce_created(
    session: AsyncSession, orders: Sequence[Order], *, actor_id: uuid.UUID
) -> None:
    """The first step of new orders' timelines (no transition: checkout makes them), written
    with the orders themselves in one flush."""
    change = (None, OrderStatus.pending_payment.value)
    role = OrderActor.buyer.value
    steps = [
        (
            _timeline_entry(
                order.id,
                EventSubject.order,
                None,
                action="create",
                actor_role=role,
                actor_id=actor_id,
                change=change,
            ),
            _announcement(
                order,
                OrderEventType.created,
                actor_role=role,
                actor_id=actor_id,
                change=change,
                details={},
            ),
        )
        for order in orders
    ]
    session.add_all(entry for entry, _ in steps)
    await outbox.emit_all(session, [announced for _, announced in steps])


def _timeline_entry(
    order_id: uuid.UUID,
    subject: EventSubject,
    subject_id: uuid.UUID | None,
    *,
    action: str,
    actor_role: str,
    actor_id: uuid.UUID | None,
    change: tuple[str | None, str],
    details: dict[str, Any] | None = None,
) -> OrderEvent:
    return OrderEvent(
        order_id=order_id,
        subject=subject,
        subject_id=subject_id,
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        from_status=change[0],
        to_status=change[1],
        details=details or {},
    )


async def record_event(
    session: AsyncSession,
    order_id: uuid.UUID,
    subject: EventSubject,
    subject_id: uuid.UUID | None,
    event: EventType | None,
    *,
    action: str,
    actor_role: str,
    actor_id: uuid.UUID | None,
    change: tuple[str | None, str],
    details: dict[str, Any] | None = None,
) -> None:
    """One step in the order's timeline: of the order itself, or of one of its returns,
    disputes or reviews (`change` is then that subject's from- and to-state). A step with an
    `event` (its transition's, from the subject's state machine) is also emitted to the
    outbox, in the same transaction; None: the step is not announced."""
    session.add(
        _timeline_entry(
            order_id,
            subject,
            subject_id,
            action=action,
            actor_role=actor_role,
            actor_id=actor_id,
            change=change,
            details=details,
        )
    )
    if event is None:
        await session.flush()
        return
    order = await OrderRepository(session).get(order_id)
    assert order is not None  # the timeline belongs to an order that exists
    subject_key = SUBJECT_ID_KEY.get(subject)
    announced = _announcement(
        order,
        event,
        actor_role=actor_role,
        actor_id=actor_id,
        change=change,
        details={**(details or {}), **({subject_key: subject_id} if subject_key else {})},
    )
    await outbox.emit_all(session, [announced])


def _announcement(
    order: Order,
    event: EventType,
    *,
    actor_role: str,
    actor_id: uuid.UUID | None,
    change: tuple[str | None, str],
    details: dict[str, Any],
) -> outbox.Emission:
    """An outbox event about the order: the order's parties, status and total, what
    changed, and the step's details (ids of the return, dispute or review among them)."""
    data: dict[str, Any] = {
        "order_id": order.id,
        "buyer_id": order.buyer_id,
        "seller_id": order.seller_id,
        "order_status": order.status,
        "total": {"amount": order.total_amount, "currency": order.currency},
        "actor_role": actor_role,
        "actor_id": actor_id,
        "previous_status": change[0],
        "status": change[1],
        **details,
    }
    return outbox.Emission(event, order.seller_id, data)


async def remind_completion(session: AsyncSession, order: Order) -> None:
    """Tell the buyer the order completes on its own soon (once per order)."""
    order.completion_reminder_sent_at = now()
    announced = _announcement(
        order,
        OrderEventType.delivery_window_ending,
        actor_role=OrderActor.system.value,
        actor_id=None,
        change=(order.status.value, order.status.value),
        details={"auto_complete_at": order.auto_complete_at},
    )
    await outbox.emit_all(session, [announced])


# --- reads ------------------------------------------------------------------------------------


async def get_visible(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, *, lock: bool = False
) -> Guarded[Order, OrderActor]:
    """An order the caller may see (a party, or an admin), with their roles on it; 404
    otherwise, decided by the query. `lock` holds its row for the rest of the transaction."""
    order = await OrderRepository(session).get_visible(principal, order_id, lock=lock)
    if order is None:
        raise OrderNotFound()
    return Guarded(order, roles_of(order, principal))


async def lock(session: AsyncSession, order_id: uuid.UUID) -> Order:
    """An order with its lines, row-locked: for returns and disputes, whose own row the
    caller has locked first (always that order: subject, then order)."""
    order = await OrderRepository(session).get_with_lines(order_id, lock=True)
    if order is None:
        raise OrderNotFound()
    return order


async def list_for(
    session: AsyncSession,
    principal: Principal,
    *,
    settings: Settings,
    role: str | None,
    statuses: tuple[OrderStatus, ...] = (),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: str | None = None,
    page: PageParams,
) -> tuple[list["OrderView"], str | None]:
    """The caller's orders, newest first, each as its screen shows it; the filters
    combine."""
    filters = OrderFilters(statuses, created_after, created_before, q)
    statement = OrderRepository(session).of_party(principal, _role_for(principal, role))
    rows, next_cursor = await paginate(
        session,
        filters.apply(statement, principal),
        keys=[SortKey(Order.id, descending=True)],
        page=page,
    )
    return await views_of(
        session, principal, [Guarded(o, roles_of(o, principal)) for o in rows], settings=settings
    ), next_cursor


def _role_for(principal: Principal, role: str | None) -> str | None:
    # A shop's integration sees the shop's sales, whichever side it asks.
    return role if principal.acts_as_buyer else "seller"


async def counts(
    session: AsyncSession, principal: Principal, *, role: str | None
) -> dict[OrderStatus, int]:
    """How many of the caller's orders are in each state (every state, zeros included)."""
    found = await OrderRepository(session).count_by_status(principal, _role_for(principal, role))
    return {s: found.get(s, 0) for s in OrderStatus}


# --- the order as a screen shows it ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order for one caller: their roles on it, what they may do now (each action with its
    deadline), the ids of what hangs off it, and for its seller the platform's commission."""

    order: Order
    roles: frozenset[OrderActor]
    actions: tuple[related.Action, ...]
    facts: related.OrderFacts
    commission: int | None
    """Minor units, for the seller and admins only (None for the buyer)."""
    net: int | None
    """Minor units, what the shop gets, for the seller and admins only (None for the
    buyer)."""


def _deadline_of(order: Order, action: OrderAction) -> datetime | None:
    """When the chance to take one of the order's own actions ends."""
    match action:
        case OrderAction.ship:
            return order.ship_by
        case OrderAction.confirm_receipt:
            return order.auto_complete_at
        case OrderAction.open_dispute:
            return order.dispute_deadline
        case _:
            return None


def _commission(settings: Settings, order: Order) -> int:
    """The platform's cut of what the buyer paid for the goods and has not had back, by the
    terms the ledger applies when the order completes (nothing for a cancelled order)."""
    if order.status is OrderStatus.cancelled:
        return 0
    money = money_of(order)
    return commission_terms(settings, order).due(money.goods_left, money.goods)


def _net(order: Order, commission: int) -> int:
    """What the shop gets for the order as it stands: the goods not refunded, plus the
    platform's subsidy for them (its discounts, in the same share), less the commission."""
    if order.status is OrderStatus.cancelled:
        return 0
    money = money_of(order)
    subsidy = payments.share(order.platform_discount_amount, money.goods_left, money.goods)
    return money.goods_left + subsidy - commission


def _view(
    settings: Settings, guarded: Guarded[Order, OrderActor], facts: related.OrderFacts
) -> OrderView:
    order, roles = guarded.subject, guarded.roles
    own = [
        related.Action(a.value, _deadline_of(order, a))
        for a in ORDER_LIFECYCLE.allowed_actions(order.status, roles, order)
        if a.value not in facts.withheld
    ]
    commission = net = None
    if roles & {OrderActor.seller, OrderActor.admin}:
        commission = _commission(settings, order)
        net = _net(order, commission)
    return OrderView(order, roles, (*own, *facts.actions), facts, commission, net)


async def views_of(
    session: AsyncSession,
    principal: Principal,
    orders: Sequence[Guarded[Order, OrderActor]],
    *,
    settings: Settings,
) -> list[OrderView]:
    """Orders as their screens show them, the facts of the domains above read once for all."""
    facts = await related.facts_for(session, principal, orders)
    return [_view(settings, o, facts.get(o.subject.id, related.NO_FACTS)) for o in orders]


async def view(
    session: AsyncSession,
    principal: Principal,
    order: Guarded[Order, OrderActor],
    *,
    settings: Settings,
) -> OrderView:
    """One order as its screen shows it, for the caller."""
    (shown,) = await views_of(session, principal, [order], settings=settings)
    return shown


_CLOSED = (
    OrderStatus.completed,
    OrderStatus.cancelled,
    OrderStatus.refunded,
    OrderStatus.partially_refunded,
)


async def reconcile_ledger(session: AsyncSession) -> ReconcileReport:
    """The ledger's invariants, those about orders checked against their states: closed
    orders hold no escrow, and only disputed ones a reserve."""
    orders = OrderRepository(session)
    return await reconcile.reconcile(
        session,
        closed_orders=orders.ids_in(_CLOSED),
        undisputed_orders=orders.ids_not_in(OrderStatus.disputed),
    )


async def events(session: AsyncSession, order: Guarded[Order, OrderActor]) -> list[OrderEvent]:
    return await OrderRepository(session).events(order.subject.id)


async def totals(session: AsyncSession, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """{order id: total}, for lists of things about orders."""
    return await OrderRepository(session).totals(order_ids)


async def subject_events(session: AsyncSession, subject_id: uuid.UUID) -> list[OrderEvent]:
    """The timeline of one subject of an order (a return, dispute or review)."""
    return await OrderRepository(session).subject_events(subject_id)


# --- transitions ------------------------------------------------------------------------------


async def ship(
    session: AsyncSession,
    principal: Principal,
    order: Guarded[Order, OrderActor],
    *,
    settings: Settings,
    carrier: str,
    carrier_name: str,
    tracking_number: str,
) -> None:
    """The seller sent the goods (`app.logistics` records the parcels). Until a carrier
    reports the delivery, the order completes by itself only after the long fallback. The
    order's guard holds its row lock."""
    shipped = order.subject
    await transition(
        session,
        shipped,
        OrderAction.ship,
        order.roles,
        actor_id=principal.user_id,
        details={
            "carrier": carrier,
            "carrier_name": carrier_name,
            "tracking_number": tracking_number,
        },
    )
    shipped.carrier, shipped.tracking_number = carrier, tracking_number
    shipped.shipped_at = now()
    shipped.auto_complete_at = shipped.shipped_at + settings.auto_complete_fallback
    await session.flush()


def record_tracking(order: Order, *, carrier: str, tracking_number: str) -> None:
    """The order's first parcel was given a corrected carrier or number."""
    order.carrier, order.tracking_number = carrier, tracking_number


def track_delivery(
    order: Order, *, settings: Settings, delivered_at: datetime | None, frozen: bool
) -> None:
    """What the carriers report moves the completion date of a shipped order (caller holds
    its row lock): counted from delivery once every parcel is delivered; none while a
    parcel is lost or going back (the buyer may dispute at once, and is refunded if nothing
    changes for `undelivered_refund_after`); from shipping, with the longer fallback, while
    nothing conclusive is known."""
    if order.status is not OrderStatus.shipped or order.shipped_at is None:
        return
    order.delivered_at = delivered_at
    # Each change while a parcel is in trouble restarts the wait for news before refunding.
    order.auto_refund_at = now() + settings.undelivered_refund_after if frozen else None
    if frozen:
        due = None
    elif delivered_at is not None:
        # Never from before shipping, whatever date a carrier's clock put on the scan.
        due = max(delivered_at, order.shipped_at) + settings.auto_complete_after
    else:
        due = order.shipped_at + settings.auto_complete_fallback
    if due != order.auto_complete_at:
        order.auto_complete_at = due
        order.completion_reminder_sent_at = None


async def confirm_receipt(
    session: AsyncSession,
    principal: Principal,
    order: Guarded[Order, OrderActor],
    *,
    settings: Settings,
) -> OrderView:
    """The buyer got the goods. The order's guard holds its row lock."""
    await _complete(
        session,
        settings,
        order.subject,
        OrderAction.confirm_receipt,
        order.roles,
        actor_id=principal.user_id,
    )
    return await view(session, principal, order, settings=settings)


async def auto_complete(session: AsyncSession, order: Order, *, settings: Settings) -> Order:
    """Worker: nobody confirmed or complained in time. The caller claimed the order's row."""
    return await _complete(
        session, settings, order, OrderAction.auto_complete, SYSTEM, actor_id=None
    )


async def _complete(
    session: AsyncSession,
    settings: Settings,
    order: Order,
    action: OrderAction,
    actors: AbstractSet[OrderActor],
    *,
    actor_id: uuid.UUID | None,
) -> Order:
    """Escrow goes to the seller minus commission, in the same transaction as the state
    change."""
    await transition(session, order, action, actors, actor_id=actor_id)
    await _release_to_seller(session, settings, order)
    return order


async def _release_to_seller(session: AsyncSession, settings: Settings, order: Order) -> None:
    """The sale is done: what is left in escrow goes to the seller, and the review, return
    and dispute windows start."""
    completed_at = order.completed_at = now()
    order.review_deadline = completed_at + settings.review_window
    order.return_deadline = completed_at + settings.return_window
    order.dispute_deadline = completed_at + settings.dispute_window
    await payments.release_escrow(
        session, settings, money_of(order), commission_terms(settings, order)
    )
    if settings.payout_hold:
        order.funds_release_at = completed_at + settings.payout_hold
    await session.flush()


def refundable(order: Order) -> int:
    """What the buyer paid for the order and has not had back, minor units."""
    return order.total_amount - order.refunded_amount


def money_of(order: Order) -> payments.OrderMoney:
    """The order's amounts as the ledger splits them (see `payments.OrderMoney`)."""
    return payments.OrderMoney(
        order_id=order.id,
        seller_id=order.seller_id,
        currency=order.currency,
        goods=order.total_amount - order.protection_fee_amount,
        fee=order.protection_fee_amount,
        refunded=order.refunded_amount,
    )


def commission_terms(settings: Settings, order: Order) -> CommissionTerms:
    """What the order's commission is reckoned from: the terms checkout recorded, or for an
    order from before commission rules, the default percent on everything it sold for."""
    if order.commission_base is None or order.commission_weight is None:
        return CommissionTerms(
            base=order.total_amount,
            weight=order.total_amount * hundredths(settings.commission_percent),
            fixed=settings.commission_fixed,
        )
    return CommissionTerms(
        base=order.commission_base,
        weight=order.commission_weight,
        fixed=order.commission_fixed or 0,
    )


async def open_dispute(
    session: AsyncSession,
    order: Order,
    actors: AbstractSet[OrderActor],
    *,
    actor_id: uuid.UUID,
    dispute_id: uuid.UUID,
) -> None:
    """The order stops (no auto-completion, no payout of its proceeds) until the dispute
    is resolved: escrow stays put, and proceeds already released are frozen."""
    await transition(
        session,
        order,
        OrderAction.open_dispute,
        actors,
        actor_id=actor_id,
        details={"dispute_id": str(dispute_id)},
    )
    if order.completed_at is not None:
        await payments.reserve_proceeds(
            session, order_id=order.id, seller_id=order.seller_id, currency=order.currency
        )


async def resolve_dispute(
    session: AsyncSession,
    settings: Settings,
    provider: PaymentProvider,
    order: Order,
    actors: AbstractSet[OrderActor],
    *,
    refund: int,
    actor_id: uuid.UUID | None,
    details: dict[str, Any],
) -> None:
    """Give the buyer `refund` (0 … refundable) and the seller the rest, then settle the
    order: completed, partially_refunded or refunded. Callers hold the order's row lock."""
    assert 0 <= refund <= refundable(order), "the dispute service checks the amount"
    reference = f"refund:{order.id}:dispute"
    if order.completed_at is None:  # the money is still in escrow
        if refund:
            await payments.refund_escrow(
                session, provider, money_of(order), amount=refund, reference=reference
            )
        order.refunded_amount += refund
        # A free order (a platform discount paid it all) still releases its escrow.
        if refund < order.total_amount or not order.total_amount:
            await _release_to_seller(session, settings, order)
    else:
        if refund:
            await _refund_after_completion(session, provider, order, refund, reference)
        await payments.release_reserve(
            session,
            order_id=order.id,
            seller_id=order.seller_id,
            currency=order.currency,
            still_held=order.funds_release_at is not None,
        )
    await transition(
        session, order, OrderAction.resolve_dispute, actors, actor_id=actor_id, details=details
    )


async def refund_return(
    session: AsyncSession,
    provider: PaymentProvider,
    order: Order,
    actors: AbstractSet[OrderActor],
    *,
    amount: int,
    returned: Sequence[tuple[OrderLine, int]],
    with_shipping: bool,
    actor_id: uuid.UUID | None,
    return_id: uuid.UUID,
) -> None:
    """The seller got the goods back (`returned`: lines and units, their shipping refunded
    too if `with_shipping`): the buyer gets `amount` back, and the platform returns those
    units' own commission and takes back their own share of its discounts. Callers hold the
    order's row lock."""
    assert 0 < amount <= refundable(order), "the returns service checks the amount"
    await _refund_after_completion(
        session,
        provider,
        order,
        amount,
        f"refund:{order.id}:return",
        taken_back=_taken_back(returned, with_shipping=with_shipping),
    )
    await transition(
        session,
        order,
        OrderAction.refund_return,
        actors,
        actor_id=actor_id,
        details={
            "return_id": str(return_id),
            "refund": {"amount": amount, "currency": order.currency},
        },
    )


def _taken_back(
    returned: Sequence[tuple[OrderLine, int]], *, with_shipping: bool
) -> payments.TakenBack | None:
    """The returned units' own share of the commission (their base at their line's percent,
    rounded half up once; the order's fixed fee stays) and of the platform's discounts
    (rounded down, as their refund is); None for lines from before commission rules."""
    weight = subsidy = 0
    for line, units in returned:
        if line.commission_percent is None:
            return None
        shipping = line.shipping_fee * units // line.quantity if with_shipping else 0
        shop_discount = line.shop_discount_amount * units // line.quantity
        base = line.unit_price * units + shipping - shop_discount
        weight += base * hundredths(line.commission_percent)
        subsidy += (line.discount_amount - line.shop_discount_amount) * units // line.quantity
    return payments.TakenBack(
        commission=round_half_up(Fraction(weight, HUNDREDTHS * HUNDREDTHS)), subsidy=subsidy
    )


async def _refund_after_completion(
    session: AsyncSession,
    provider: PaymentProvider,
    order: Order,
    amount: int,
    reference: str,
    *,
    taken_back: payments.TakenBack | None = None,
) -> None:
    await payments.refund_proceeds(
        session,
        provider,
        money_of(order),
        amount=amount,
        reference=reference,
        taken_back=taken_back,
    )
    order.refunded_amount += amount
    await session.flush()


async def cancel(
    session: AsyncSession,
    principal: Principal,
    order: Guarded[Order, OrderActor],
    *,
    settings: Settings,
    provider: PaymentProvider,
    reason: str,
) -> OrderView:
    """Cancel before shipping (the order's guard holds its row lock)."""
    await _cancel(
        session,
        provider,
        order.subject,
        OrderAction.cancel,
        order.roles,
        actor_id=principal.user_id,
        reason=reason,
    )
    return await view(session, principal, order, settings=settings)


async def expire(session: AsyncSession, order: Order, *, provider: PaymentProvider) -> Order:
    """Worker: the order was not paid in time. The caller claimed its checkout's row."""
    return await _cancel(
        session,
        provider,
        order,
        OrderAction.expire,
        SYSTEM,
        actor_id=None,
        reason=EXPIRED_REASON,
    )


async def refund_undelivered(
    session: AsyncSession, provider: PaymentProvider, order: Order
) -> Order:
    """Worker: a parcel lost or sent back, no later scan, no dispute: the buyer gets all the
    escrow back. The stock does not return (where the goods are is the seller's to find
    out; a returned parcel can be listed again). The caller claimed the order's row."""
    await transition(session, order, OrderAction.refund_undelivered, SYSTEM, actor_id=None)
    await _refund_in_full(session, provider, order, "undelivered")
    order.auto_refund_at = None
    await session.flush()
    return order


async def _refund_in_full(
    session: AsyncSession, provider: PaymentProvider, order: Order, why: str
) -> None:
    """Everything the buyer paid goes back out of escrow (the order was never completed),
    and the order says so, as the ledger does."""
    await payments.refund_escrow(
        session,
        provider,
        money_of(order),
        amount=order.total_amount,
        reference=f"refund:{order.id}:{why}",
    )
    order.refunded_amount = order.total_amount


async def _cancel(
    session: AsyncSession,
    provider: PaymentProvider,
    order: Order,
    action: OrderAction,
    actors: AbstractSet[OrderActor],
    *,
    actor_id: uuid.UUID | None,
    reason: str,
) -> Order:
    """The stock returns, the coupons used on it count as unused again (when no other
    order of its checkout still carries them), and a paid order is refunded in full."""
    before = await transition(
        session, order, action, actors, actor_id=actor_id, details={"reason": reason}
    )
    order.cancelled_at = now()
    order.cancel_reason = reason
    for line in order.lines:
        await catalog_service.release_stock(session, line.listing_id, line.quantity)
    if order.discounts:
        await promotions.release(session, order_id=order.id)
    if before is OrderStatus.paid:
        await _refund_in_full(session, provider, order, "cancel")
    else:
        checkout = await CheckoutRepository(session).get_with_orders(order.checkout_id)
        assert checkout is not None  # every order belongs to a checkout
        await settle_checkout_if_cancelled(session, checkout)
    await session.flush()
    return order


async def settle_checkout_if_cancelled(session: AsyncSession, checkout: Checkout) -> None:
    """A checkout whose every order is cancelled is cancelled too."""
    if checkout.status is CheckoutStatus.pending_payment and all(
        o.status is OrderStatus.cancelled for o in checkout.orders
    ):
        checkout.status = CheckoutStatus.cancelled
        await session.flush()


async def release_held_funds(session: AsyncSession, order: Order) -> int:
    released = await payments.release_hold(
        session, order_id=order.id, seller_id=order.seller_id, currency=order.currency
    )
    order.funds_release_at = None
    await session.flush()
    return released
