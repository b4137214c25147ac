"""What returns and disputes share: who the caller is to them, and their timeline."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.disputes.state import Actor
from app.orders import service as order_service
from app.orders.models import EventSubject, OrderEvent
from app.sellers.models import SellerProfile

# Which role a step names when the caller holds several (an admin who is also the buyer).
_ROLE_PRIORITY = (Actor.system, Actor.buyer, Actor.seller, Actor.admin)


def actors_for(
    buyer_id: uuid.UUID, seller_id: uuid.UUID, user: User, seller: SellerProfile | None
) -> set[Actor]:
    actors: set[Actor] = set()
    if buyer_id == user.id:
        actors.add(Actor.buyer)
    if seller is not None and seller_id == seller.id:
        actors.add(Actor.seller)
    if user.is_admin:
        actors.add(Actor.admin)
    return actors


def acting_role(actors: set[Actor]) -> Actor:
    return min(actors, key=_ROLE_PRIORITY.index)


async def record_step(
    session: AsyncSession,
    order_id: uuid.UUID,
    subject: EventSubject,
    subject_id: uuid.UUID,
    *,
    action: str,
    actor: Actor,
    actor_id: uuid.UUID | None,
    change: tuple[str | None, str],
    details: dict[str, object] | None = None,
) -> None:
    await order_service.record_event(
        session,
        order_id,
        subject,
        subject_id,
        action=action,
        actor_role=actor.value,
        actor_id=actor_id,
        change=change,
        details=details,
    )


async def timeline(session: AsyncSession, subject_id: uuid.UUID) -> list[OrderEvent]:
    return await order_service.subject_events(session, subject_id)
