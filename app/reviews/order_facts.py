"""What reviews tell an order's screen (see app.orders.related): `review` while the caller's
side of the order has not reviewed the other and the review window is open — the rule
`service.write` enforces."""

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.guards import Guarded
from app.orders.models import Order
from app.orders.related import Action, OrderFacts
from app.orders.state import OrderActor
from app.reviews.models import Review, ReviewedRole
from app.reviews.service import review_refusal

REVIEW = "review"


def _reviews_about(roles: frozenset[OrderActor]) -> ReviewedRole | None:
    """Whom the caller reviews on an order: buyers review the seller and sellers the buyer."""
    if OrderActor.buyer in roles:
        return ReviewedRole.seller
    if OrderActor.seller in roles:
        return ReviewedRole.buyer
    return None


async def order_facts(
    session: AsyncSession, principal: Principal, orders: Sequence[Guarded[Order, OrderActor]]
) -> Mapping[uuid.UUID, OrderFacts]:
    """One query for the whole page (none when no window is open): who reviewed whom."""
    open_to = {
        o.subject.id: (o.subject, about)
        for o in orders
        if (about := _reviews_about(o.roles)) is not None and review_refusal(o.subject) is None
    }
    if not open_to:
        return {}
    statement = select(Review.order_id, Review.about).where(Review.order_id.in_(open_to))
    written = {(row[0], row[1]) for row in await session.execute(statement)}
    return {
        order_id: OrderFacts(actions=(Action(REVIEW, order.review_deadline),))
        for order_id, (order, about) in open_to.items()
        if (order_id, about) not in written
    }
