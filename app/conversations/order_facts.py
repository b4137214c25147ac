"""What conversations tell an order's screen (see app.orders.related): the caller's
conversation about the order, and `message` while the caller can write about it — the buyer
starts or continues the order's conversation, the seller answers in one the buyer started
(the rules of `service.start` and `service.send`), and neither can write to a deleted
account."""

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.auth.principal import Principal
from app.conversations.models import Conversation
from app.core.guards import Guarded
from app.orders.models import Order
from app.orders.related import Action, OrderFacts
from app.orders.state import OrderActor
from app.sellers.models import SellerProfile

MESSAGE = "message"

_PARTIES = frozenset({OrderActor.buyer, OrderActor.seller})

# Built once: it is asked on every order screen, and building it (two aliases of users and
# their adapted columns) cost more than running it.
_BUYER, _SELLER_USER = aliased(User, name="buyer"), aliased(User, name="seller_user")
_FACTS = (
    select(
        Order.id,
        Conversation.id,
        _BUYER.deleted_at.is_(None),
        _SELLER_USER.deleted_at.is_(None),
    )
    .select_from(Order)
    .join(_BUYER, _BUYER.id == Order.buyer_id)
    .join(SellerProfile, SellerProfile.id == Order.seller_id)
    .join(_SELLER_USER, _SELLER_USER.id == SellerProfile.user_id)
    .outerjoin(Conversation, Conversation.order_id == Order.id)
    .where(Order.id.in_(bindparam("order_ids", expanding=True)))
)


async def order_facts(
    session: AsyncSession, principal: Principal, orders: Sequence[Guarded[Order, OrderActor]]
) -> Mapping[uuid.UUID, OrderFacts]:
    """One query for the whole page: each order's conversation, and whether each party's
    account still exists."""
    asked = {o.subject.id: o.roles for o in orders if o.roles & _PARTIES}
    if not asked:
        return {}
    facts: dict[uuid.UUID, OrderFacts] = {}
    rows = await session.execute(_FACTS, {"order_ids": list(asked)})
    for order_id, conversation_id, buyer_active, seller_active in rows:
        roles = asked[order_id]
        if OrderActor.buyer in roles:
            can_write = bool(seller_active)
        else:  # the seller answers in a conversation the buyer started
            can_write = conversation_id is not None and bool(buyer_active)
        facts[order_id] = OrderFacts(
            conversation_id=conversation_id,
            actions=(Action(MESSAGE, None),) if can_write else (),
        )
    return facts
