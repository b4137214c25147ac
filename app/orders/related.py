"""What the domains above orders know about an order, for its screen: the id of its return,
dispute and the caller's conversation about it, and the actions they offer on it (request a
return, review, message), each with its deadline.

Orders sits below disputes, reviews and conversations and never imports them. Each of them
implements `OrderFactsProvider` for a whole page of orders in one query, and the app wires
them explicitly at start-up (`install_providers`, called by `app.main.create_app`)."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.guards import Guarded
from app.orders.models import Order
from app.orders.state import OrderActor


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the caller may do now, and when the chance ends (None: no deadline)."""

    name: str
    deadline: datetime | None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """One provider's facts about one order, for one caller. `withheld` names order actions
    the provider's domain refuses now although the order's lifecycle offers them (a dispute
    while one exists or a return is under way)."""

    return_id: uuid.UUID | None = None
    dispute_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    actions: tuple[Action, ...] = ()
    withheld: frozenset[str] = frozenset()


NO_FACTS = OrderFacts()


class OrderFactsProvider(Protocol):
    """Facts about each order of a page (only those with something to say need an entry),
    read in one query for the whole page."""

    async def __call__(
        self,
        session: AsyncSession,
        principal: Principal,
        orders: Sequence[Guarded[Order, OrderActor]],
    ) -> Mapping[uuid.UUID, OrderFacts]: ...


@dataclass(slots=True)
class _Registry:
    providers: tuple[OrderFactsProvider, ...] = field(default_factory=tuple)


_registry = _Registry()


def install_providers(*providers: OrderFactsProvider) -> None:
    """The providers every order screen asks, in the order their actions are listed (calling
    it again replaces them: each app built wires the same ones)."""
    _registry.providers = providers


def merged(parts: Sequence[OrderFacts]) -> OrderFacts:
    """The facts of several providers about one order, as one."""
    return OrderFacts(
        return_id=next((p.return_id for p in parts if p.return_id), None),
        dispute_id=next((p.dispute_id for p in parts if p.dispute_id), None),
        conversation_id=next((p.conversation_id for p in parts if p.conversation_id), None),
        actions=tuple(a for p in parts for a in p.actions),
        withheld=frozenset().union(*(p.withheld for p in parts)),
    )


async def facts_for(
    session: AsyncSession, principal: Principal, orders: Sequence[Guarded[Order, OrderActor]]
) -> dict[uuid.UUID, OrderFacts]:
    """Every installed provider's facts about each order (one query per provider)."""
    if not orders:
        return {}
    answers = [await provider(session, principal, orders) for provider in _registry.providers]
    return {
        o.subject.id: merged([a[o.subject.id] for a in answers if o.subject.id in a])
        for o in orders
    }
