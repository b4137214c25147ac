import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from app.auth.principal import Principal, any_of, party_conditions
from app.conversations.models import Conversation, Message, Side
from app.core.repository import RepositoryBase
from app.disputes.models import Dispute

_ReadMarker = InstrumentedAttribute[uuid.UUID | None]


def _sides_of(principal: Principal) -> list[tuple[ColumnElement[bool], Side, _ReadMarker]]:
    """Each side the caller may hold in a conversation: (the condition that they hold it,
    the other side, their read marker)."""
    held = party_conditions(principal, buyer=Conversation.buyer_id, seller=Conversation.seller_id)
    sides: list[tuple[ColumnElement[bool], Side, _ReadMarker]] = []
    if "buyer" in held:
        sides.append((held["buyer"], Side.seller, Conversation.buyer_read_up_to))
    if "seller" in held:
        sides.append((held["seller"], Side.buyer, Conversation.seller_read_up_to))
    return sides


def _held_by(principal: Principal) -> list[ColumnElement[bool]]:
    return [held for held, _other, _marker in _sides_of(principal)]


class ConversationRepository(RepositoryBase[Conversation]):
    model = Conversation

    def of_participant(self, principal: Principal) -> Select[Conversation]:
        """The caller's conversations: as the buyer, and as the seller if they have a shop."""
        return select(Conversation).where(any_of(_held_by(principal)))

    def visible_to(self, principal: Principal) -> Select[Conversation]:
        """Conversations the caller may open: their own and, for an admin, those about an
        order that has a dispute (in any state), to judge what its parties said."""
        reach = _held_by(principal)
        if principal.is_admin:
            reach.append(
                select(Dispute.id).where(Dispute.order_id == Conversation.order_id).exists()
            )
        return select(Conversation).where(any_of(reach))

    async def get_visible(
        self, principal: Principal, conversation_id: uuid.UUID, *, lock: bool
    ) -> Conversation | None:
        """One conversation, only if the caller may open it (decided in the query)."""
        statement = (
            self.visible_to(principal)
            .where(Conversation.id == conversation_id)
            .execution_options(populate_existing=True)
        )
        if lock:
            statement = statement.with_for_update(of=Conversation)
        return await self.get_one_or_none(statement)

    async def get_or_add(self, conversation: Conversation) -> tuple[Conversation, bool]:
        """The caller's existing conversation about the same listing or order, row-locked;
        else `conversation`, inserted: (conversation, created). When a concurrent start
        inserts first, the unique constraint refuses ours and theirs is returned."""
        subject = _same_subject(conversation)
        existing = await self._one(subject, lock=True)
        if existing is not None:
            return existing, False
        try:
            async with self.session.begin_nested():
                self.session.add(conversation)
        except IntegrityError:
            existing = await self._one(subject, lock=True)
            if existing is None:
                raise
            return existing, False
        return conversation, True

    async def _one(self, where: ColumnElement[bool], *, lock: bool) -> Conversation | None:
        statement = select(Conversation).where(where).execution_options(populate_existing=True)
        if lock:
            statement = statement.with_for_update()
        return await self.get_one_or_none(statement)

    async def newest_message_id(self, conversation_id: uuid.UUID) -> uuid.UUID | None:
        # ORDER BY ... LIMIT 1 rather than max(): PostgreSQL has no max() of uuid.
        statement = (
            select(Message.id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(1)
        )
        newest: uuid.UUID | None = await self.session.scalar(statement)
        return newest

    async def unread_counts(
        self, conversation_ids: Sequence[uuid.UUID], principal: Principal
    ) -> dict[uuid.UUID, int]:
        """{conversation id: messages from the other side newer than the caller's read
        marker}, on each side the caller holds; conversations without unread messages are
        absent."""
        if not conversation_ids:
            return {}
        unread = [_unread_by(held, other, marker) for held, other, marker in _sides_of(principal)]
        statement = (
            select(Message.conversation_id, func.count())
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.conversation_id.in_(conversation_ids), any_of(unread))
            .group_by(Message.conversation_id)
        )
        rows = await self.session.execute(statement)
        return {conversation_id: int(count) for conversation_id, count in rows}


def _same_subject(conversation: Conversation) -> ColumnElement[bool]:
    if conversation.order_id is not None:
        return Conversation.order_id == conversation.order_id
    return and_(
        Conversation.buyer_id == conversation.buyer_id,
        Conversation.listing_id == conversation.listing_id,
    )


def _unread_by(
    reader: ColumnElement[bool], other_side: Side, marker: _ReadMarker
) -> ColumnElement[bool]:
    return and_(
        reader,
        Message.sender_role == other_side,
        or_(marker.is_(None), Message.id > marker),
    )


class MessageRepository(RepositoryBase[Message]):
    model = Message

    def of_conversation(self, conversation_id: uuid.UUID) -> Select[Message]:
        return select(Message).where(Message.conversation_id == conversation_id)

    async def rate_limit_reached_at(
        self, sender_id: uuid.UUID, since: datetime, limit: int
    ) -> datetime | None:
        """The time of the sender's `limit`-th newest message after `since`, if there are that
        many: the next message may be sent once it is older than the window. None: not at the
        limit. Reads one index range, however busy the sender."""
        statement = (
            select(Message.created_at)
            .where(Message.sender_id == sender_id, Message.created_at > since)
            .order_by(Message.created_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        reached: datetime | None = await self.session.scalar(statement)
        return reached
