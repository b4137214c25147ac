"""The order screen skips the returns-and-disputes query for orders in `NEVER_CONTESTED`
states (pay's answer among them). That is only right while no order in such a state can
have had a return or a dispute; these tests hold the order's transition table to it."""

from app.disputes.order_facts import NEVER_CONTESTED
from app.disputes.returns import return_refusal
from app.orders.models import Order, OrderStatus
from app.orders.state import ORDER_LIFECYCLE, OrderAction, OrderActor

TOTAL = 10_00


def _targets(to: OrderStatus | object) -> set[OrderStatus]:
    """Where a transition may lead: its state, or every state its function gives for an
    order refunded nothing, in part or in full."""
    if isinstance(to, OrderStatus):
        return {to}
    assert callable(to)
    return {
        to(Order(status=OrderStatus.disputed, total_amount=TOTAL, refunded_amount=refunded))
        for refunded in (0, TOTAL // 2, TOTAL)
    }


def test_no_state_after_a_dispute_or_a_return_is_one_the_screen_skips() -> None:
    # A dispute's order is `disputed` and a return's `completed`: whatever follows them.
    reached = {OrderStatus.disputed, OrderStatus.completed}
    grew = True
    while grew:
        following = {
            target
            for (state, _), transition in ORDER_LIFECYCLE.table.items()
            if state in reached
            for target in _targets(transition.to)
        }
        grew = not following <= reached
        reached |= following
    assert reached & NEVER_CONTESTED == set()
    assert OrderStatus.refunded in reached  # the walk followed the settlements


def test_a_dispute_always_moves_its_order_to_disputed() -> None:
    opening = [
        transition
        for (_, action), transition in ORDER_LIFECYCLE.table.items()
        if action is OrderAction.open_dispute
    ]
    assert opening
    assert all(transition.to is OrderStatus.disputed for transition in opening)


def test_no_order_the_screen_skips_may_be_returned() -> None:
    for status in NEVER_CONTESTED:
        order = Order(status=status, total_amount=TOTAL, refunded_amount=0)
        assert return_refusal(order, frozenset({OrderActor.buyer})) is not None, status
