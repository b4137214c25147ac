import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from app.core.repository import RepositoryBase
from app.messaging.conversations.models import Conversation, Message, Side


class ConversationRepository(RepositoryBase[Conversation]):
    model = Conversation

    def visible_to(
        self, buyer_id: uuid.UUID | None, seller_id: uuid.UUID | None
    ) -> Select[Conversation]:
        """The caller's conversations: as the buyer (`buyer_id`), and as the seller if they
        have a shop (`seller_id`)."""
        sides = [
            condition
            for condition in (
                Conversation.buyer_id == buyer_id if buyer_id is not None else None,
                Conversation.seller_id == seller_id if seller_id is not None else None,
            )
            if condition is not None
        ]
        return select(Conversation).where(or_(false(), *sides))

    async def get(self, id_: uuid.UUID, *, lock: bool = False) -> Conversation | None:
        return await self._one(Conversation.id == id_, lock=lock)

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
        self,
        conversation_ids: Sequence[uuid.UUID],
        user_id: uuid.UUID | None,
        seller_id: uuid.UUID | None,
    ) -> dict[uuid.UUID, int]:
        """{conversation id: messages from the other side newer than the caller's read
        marker}, for conversations where the caller is the buyer or (with `seller_id`) the
        seller; conversations without unread messages are absent."""
        if not conversation_ids:
            return {}
        unread = []
        if user_id is not None:
            unread.append(
                _unread_by(
                    Conversation.buyer_id == user_id, Side.seller, Conversation.buyer_read_up_to
                )
            )
        if seller_id is not None:
            unread.append(
                _unread_by(
                    Conversation.seller_id == seller_id, Side.buyer, Conversation.seller_read_up_to
                )
            )
        statement = (
            select(Message.conversation_id, func.count())
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.conversation_id.in_(conversation_ids), or_(*unread))
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
    reader: ColumnElement[bool], other_side: Side, marker: InstrumentedAttribute[uuid.UUID | None]
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
