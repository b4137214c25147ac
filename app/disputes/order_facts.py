"""What returns and disputes tell an order's screen (see app.orders.related): the ids of the
order's return and dispute, `request_return` while the buyer may still ask for one, and
`open_dispute` withheld while a dispute exists or a return is under way. The rules are those
`returns.request_return` and `service.open_dispute` enforce."""

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.guards import Guarded
from app.disputes.models import Dispute, ReturnRequest, ReturnStatus
from app.disputes.returns import return_refusal
from app.orders.models import Order, OrderStatus
from app.orders.related import Action, OrderFacts
from app.orders.state import OrderAction, OrderActor

REQUEST_RETURN = "request_return"

# A return waiting for the seller's decision or the buyer's parcel holds disputes back.
_RETURN_IN_PROGRESS = frozenset({ReturnStatus.requested, ReturnStatus.approved})
NEVER_CONTESTED = frozenset(
    {OrderStatus.pending_payment, OrderStatus.paid, OrderStatus.shipped, OrderStatus.cancelled}
)
"""Orders in these states never had a return or a dispute, so their screens need no query
(a just-paid checkout's orders among them): a return needs a completed order, a dispute
moves its order to `disputed`, and no state after those leads back here (tests/disputes
check this against the order's transition table)."""


async def order_facts(
    session: AsyncSession, principal: Principal, orders: Sequence[Guarded[Order, OrderActor]]
) -> Mapping[uuid.UUID, OrderFacts]:
    """One query for the whole page: each order's return and dispute, if any."""
    asked = [o for o in orders if o.subject.status not in NEVER_CONTESTED]
    if not asked:
        return {}
    statement = (
        select(Order.id, ReturnRequest.id, ReturnRequest.status, Dispute.id)
        .select_from(Order)
        .outerjoin(ReturnRequest, ReturnRequest.order_id == Order.id)
        .outerjoin(Dispute, Dispute.order_id == Order.id)
        .where(Order.id.in_([o.subject.id for o in asked]))
    )
    found = {row[0]: row[1:] for row in await session.execute(statement)}
    facts: dict[uuid.UUID, OrderFacts] = {}
    for guarded in asked:
        order, roles = guarded.subject, guarded.roles
        return_id, return_status, dispute_id = found.get(order.id, (None, None, None))
        withheld = (
            frozenset({OrderAction.open_dispute.value})
            if dispute_id is not None or return_status in _RETURN_IN_PROGRESS
            else frozenset()
        )
        actions = (
            (Action(REQUEST_RETURN, order.return_deadline),)
            if return_id is None and return_refusal(order, roles) is None
            else ()
        )
        facts[order.id] = OrderFacts(
            return_id=return_id, dispute_id=dispute_id, actions=actions, withheld=withheld
        )
    return facts
