"""Order lifecycle, as API.md: pending_payment → paid → shipped → completed;
pending_payment → cancelled (buyer, or expiry: stock released); paid → cancelled (refunded);
paid/shipped/completed (inside the dispute window) → disputed → completed | refunded |
partially_refunded; completed → refunded | partially_refunded when a return is refunded.
Every transition announces the state it reaches (`order.paid`, `order.refunded`, ...)."""

from enum import StrEnum

from app.core.clock import now
from app.core.state import StateMachine, Transition
from app.orders.events import OrderEventType as E
from app.orders.models import Order
from app.orders.models import OrderStatus as S


class OrderAction(StrEnum):
    pay = "pay"
    expire = "expire"
    cancel = "cancel"
    ship = "ship"
    confirm_receipt = "confirm_receipt"
    auto_complete = "auto_complete"
    open_dispute = "open_dispute"
    resolve_dispute = "resolve_dispute"
    refund_return = "refund_return"
    refund_undelivered = "refund_undelivered"


class OrderActor(StrEnum):
    buyer = "buyer"
    seller = "seller"
    admin = "admin"
    system = "system"


def _seller_is_late(order: Order) -> bool:
    return order.ship_by is not None and order.ship_by <= now()


def _auto_complete_due(order: Order) -> bool:
    return order.auto_complete_at is not None and order.auto_complete_at <= now()


def _auto_refund_due(order: Order) -> bool:
    return order.auto_refund_at is not None and order.auto_refund_at <= now()


def _inside_dispute_window(order: Order) -> bool:
    return order.dispute_deadline is None or now() < order.dispute_deadline


def _settled(order: Order) -> S:
    """Where a dispute or a return leaves the order, from what the buyer got back."""
    if order.refunded_amount and order.refunded_amount >= order.total_amount:
        return S.refunded
    return S.partially_refunded if order.refunded_amount else S.completed


_SETTLEMENT_EVENTS = {
    S.completed: E.completed,
    S.refunded: E.refunded,
    S.partially_refunded: E.partially_refunded,
}


def _settlement_event(reached: S) -> E | None:
    """A settled order is announced under the state the settlement left it in."""
    return _SETTLEMENT_EVENTS.get(reached)


_DISPUTE = Transition(
    S.disputed, frozenset({OrderActor.buyer}), guard=_inside_dispute_window, event=E.disputed
)

ORDER_LIFECYCLE: StateMachine[S, OrderAction, OrderActor, Order] = StateMachine(
    "order",
    {
        (S.pending_payment, OrderAction.pay): Transition(
            S.paid, frozenset({OrderActor.system}), event=E.paid
        ),
        (S.pending_payment, OrderAction.expire): Transition(
            S.cancelled, frozenset({OrderActor.system}), event=E.cancelled
        ),
        (S.pending_payment, OrderAction.cancel): Transition(
            S.cancelled, frozenset({OrderActor.buyer, OrderActor.admin}), event=E.cancelled
        ),
        # Before shipping the seller may always cancel (with a refund); the buyer only once
        # the seller has missed the ship-by date.
        (S.paid, OrderAction.cancel): Transition(
            S.cancelled,
            frozenset({OrderActor.seller, OrderActor.buyer, OrderActor.admin}),
            actor_guards={OrderActor.buyer: _seller_is_late},
            event=E.cancelled,
        ),
        (S.paid, OrderAction.ship): Transition(
            S.shipped, frozenset({OrderActor.seller}), event=E.shipped
        ),
        (S.shipped, OrderAction.confirm_receipt): Transition(
            S.completed, frozenset({OrderActor.buyer}), event=E.completed
        ),
        (S.shipped, OrderAction.auto_complete): Transition(
            S.completed, frozenset({OrderActor.system}), guard=_auto_complete_due, event=E.completed
        ),
        # A parcel the carrier lost or sent back, and no later scan nor dispute since: the
        # buyer never got the goods, so the escrow goes back to them.
        (S.shipped, OrderAction.refund_undelivered): Transition(
            S.refunded,
            frozenset({OrderActor.system}),
            guard=_auto_refund_due,
            event=E.undelivered_refunded,
        ),
        (S.paid, OrderAction.open_dispute): _DISPUTE,
        (S.shipped, OrderAction.open_dispute): _DISPUTE,
        (S.completed, OrderAction.open_dispute): _DISPUTE,
        (S.disputed, OrderAction.resolve_dispute): Transition(
            _settled, frozenset({OrderActor.admin, OrderActor.system}), event=_settlement_event
        ),
        # The system's consequence of the seller receiving a return (not an order action
        # anyone calls).
        (S.completed, OrderAction.refund_return): Transition(
            _settled, frozenset({OrderActor.system}), event=_settlement_event
        ),
    },
)
