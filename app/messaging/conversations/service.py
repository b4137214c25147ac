"""Conversations between a buyer and a seller about a listing or an order.

Only the two participants read them; an admin may too while the order is disputed (to judge
what was said), but never writes in them. Until the order is paid, contact details are
masked at write time: the platform keeps the trade, and the buyer keeps escrow protection.
"""

import math
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.exceptions import InsufficientScope
from app.auth.models import User
from app.auth.principal import acts_as_admin
from app.catalog import service as catalog_service
from app.config import Settings
from app.core import outbox
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.pagination import PageParams, SortKey, paginate
from app.core.request_context import acting_through_api_key
from app.disputes import service as disputes_service
from app.messaging.conversations.exceptions import (
    CannotMessageOwnListing,
    ConversationNotFound,
    MessageRateLimited,
    NotAParticipant,
    ParticipantGone,
)
from app.messaging.conversations.masking import mask_contact_details
from app.messaging.conversations.models import Conversation, Message, Side
from app.messaging.conversations.repository import ConversationRepository, MessageRepository
from app.messaging.conversations.schemas import ConversationRole, ConversationStart
from app.orders import service as order_service
from app.orders.exceptions import OrderNotFound
from app.orders.state import OrderActor
from app.sellers import service as sellers_service
from app.sellers.models import SellerProfile

MESSAGE_CREATED = "message.created"
_PREVIEW_LENGTH = 120
_BY_ACTIVITY = [
    SortKey(Conversation.last_message_at, descending=True),
    SortKey(Conversation.id, descending=True),
]
_NEWEST_FIRST = [SortKey(Message.id, descending=True)]


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation as one caller sees it."""

    conversation: Conversation
    role: ConversationRole
    unread_count: int


def _side_of(conversation: Conversation, user: User, seller: SellerProfile | None) -> Side | None:
    # Nobody is both: a seller cannot start one about their own listing or buy from themself.
    # An API key speaks for the shop only, never for its owner's purchases.
    if conversation.buyer_id == user.id and not acting_through_api_key():
        return Side.buyer
    if seller is not None and conversation.seller_id == seller.id:
        return Side.seller
    return None


async def _get_for(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    user: User,
    seller: SellerProfile | None,
    *,
    lock: bool = False,
) -> tuple[Conversation, ConversationRole]:
    """A conversation the caller takes part in, or (admins) one about a disputed order;
    anything else is a 404."""
    conversation = await ConversationRepository(session).get(conversation_id, lock=lock)
    if conversation is None:
        raise ConversationNotFound()
    side = _side_of(conversation, user, seller)
    if side is not None:
        return conversation, ConversationRole(side.value)
    if (
        acts_as_admin(user)
        and conversation.order_id is not None
        and await disputes_service.exists_for_order(session, conversation.order_id)
    ):
        return conversation, ConversationRole.admin
    raise ConversationNotFound()


def _participant(role: ConversationRole) -> Side:
    if role is ConversationRole.admin:
        raise NotAParticipant("admins may read a disputed order's conversation, not write in it")
    return Side(role.value)


def _checked_body(settings: Settings, text: str, loc: list[str | int]) -> str:
    # The limit is a setting, so the schema (fixed at import) cannot hold it.
    if len(text) > settings.message_max_length:
        raise ValidationFailed(loc, f"at most {settings.message_max_length} characters")
    return text


async def _check_rate(session: AsyncSession, settings: Settings, sender: User) -> None:
    """At most `message_rate_limit` messages per sender in any `message_rate_window`, across
    conversations. Counted from the messages themselves, so every worker sees the same
    count; two messages racing at the limit may both pass, which a chat limit tolerates."""
    at = now()
    reached = await MessageRepository(session).rate_limit_reached_at(
        sender.id, at - settings.message_rate_window, settings.message_rate_limit
    )
    if reached is not None:
        wait = reached + settings.message_rate_window - at
        raise MessageRateLimited(
            f"at most {settings.message_rate_limit} messages per "
            f"{int(settings.message_rate_window.total_seconds())} seconds",
            retry_after_seconds=math.ceil(wait.total_seconds()),
        )


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PREVIEW_LENGTH else flat[: _PREVIEW_LENGTH - 1] + "…"


async def _post(
    session: AsyncSession,
    conversation: Conversation,
    sender: User,
    side: Side,
    text: str,
    *,
    contact_details_allowed: bool,
) -> Message:
    """Append a message (masked unless contact details are allowed), move the conversation's
    activity, and emit `message.created` in the same transaction. Sending reads the
    conversation for the sender: their read marker moves to their own message. The caller
    holds the conversation's row lock, so its messages are appended one at a time."""
    if side is Side.buyer:
        recipient_id = (await sellers_service.get(session, conversation.seller_id)).user_id
    else:
        recipient_id = conversation.buyer_id
    if not await auth_service.active_among(session, {recipient_id}):
        raise ParticipantGone("their account was deleted; the conversation stays readable")
    body, masked = (text, False) if contact_details_allowed else mask_contact_details(text)
    message = Message(
        conversation_id=conversation.id,
        sender_id=sender.id,
        sender_role=side,
        body=body,
        masked=masked,
        created_at=now(),
    )
    await MessageRepository(session).add(message)
    conversation.last_message_at = message.created_at
    conversation.last_message_preview = _preview(body)
    if side is Side.buyer:
        conversation.buyer_read_up_to = message.id
    else:
        conversation.seller_read_up_to = message.id
    await session.flush()
    await outbox.emit(
        session,
        MESSAGE_CREATED,
        seller_id=conversation.seller_id,
        data={
            "conversation_id": conversation.id,
            "message_id": message.id,
            "sender_id": sender.id,
            "recipient_id": recipient_id,
            "buyer_id": conversation.buyer_id,
            "seller_id": conversation.seller_id,
            "listing_id": conversation.listing_id,
            "order_id": conversation.order_id,
            "body": message.body,
        },
    )
    return message


async def start(
    session: AsyncSession,
    settings: Settings,
    user: User,
    seller: SellerProfile | None,
    data: ConversationStart,
) -> tuple[ConversationView, bool]:
    """Start a conversation with a listing's or an order's seller, or, if the caller already
    has one about it, append the message to that one: (the conversation, created)."""
    if acting_through_api_key():
        raise InsufficientScope("starting a conversation is a buyer's action, not a shop's")
    text = _checked_body(settings, data.message, ["body", "message"])
    if data.listing_id is not None:
        listing = await catalog_service.get_visible(session, data.listing_id, None)
        if listing.seller.user_id == user.id:
            raise CannotMessageOwnListing("this is your own listing")
        subject = Conversation(buyer_id=user.id, seller_id=listing.seller_id, listing_id=listing.id)
        contact_details_allowed = False
    else:
        assert data.order_id is not None  # the schema requires exactly one
        order, actors = await order_service.get_for(session, data.order_id, user, seller)
        if OrderActor.buyer not in actors:
            # The buyer starts it; the seller answers in it. Others must not learn it exists.
            raise OrderNotFound()
        subject = Conversation(buyer_id=user.id, seller_id=order.seller_id, order_id=order.id)
        contact_details_allowed = order.paid_at is not None
    await _check_rate(session, settings, user)
    subject.last_message_at = now()
    subject.last_message_preview = ""
    conversation, created = await ConversationRepository(session).get_or_add(subject)
    await _post(
        session,
        conversation,
        user,
        Side.buyer,
        text,
        contact_details_allowed=contact_details_allowed,
    )
    return ConversationView(conversation, ConversationRole.buyer, 0), created


async def list_for(
    session: AsyncSession, user: User, seller: SellerProfile | None, page: PageParams
) -> tuple[list[ConversationView], str | None]:
    """The caller's conversations as buyer and as seller, most recent activity first."""
    repository = ConversationRepository(session)
    seller_id = seller.id if seller is not None else None
    buyer_id = None if acting_through_api_key() else user.id
    rows: list[Conversation]
    rows, cursor = await paginate(
        session,
        repository.visible_to(buyer_id, seller_id),
        keys=_BY_ACTIVITY,
        page=page,
        tag="activity",
    )
    unread = await repository.unread_counts([c.id for c in rows], buyer_id, seller_id)
    views = []
    for conversation in rows:
        side = _side_of(conversation, user, seller)
        assert side is not None  # the statement selects only the caller's
        role = ConversationRole(side.value)
        views.append(ConversationView(conversation, role, unread.get(conversation.id, 0)))
    return views, cursor


async def get_view(
    session: AsyncSession, conversation_id: uuid.UUID, user: User, seller: SellerProfile | None
) -> ConversationView:
    conversation, role = await _get_for(session, conversation_id, user, seller)
    unread = 0
    if role is not ConversationRole.admin:
        counts = await ConversationRepository(session).unread_counts(
            [conversation.id], user.id, seller.id if seller is not None else None
        )
        unread = counts.get(conversation.id, 0)
    return ConversationView(conversation, role, unread)


async def mark_read(
    session: AsyncSession, conversation_id: uuid.UUID, user: User, seller: SellerProfile | None
) -> ConversationView:
    """Everything in the conversation up to now is read by the caller (a participant)."""
    conversation, role = await _get_for(session, conversation_id, user, seller, lock=True)
    side = _participant(role)
    newest = await ConversationRepository(session).newest_message_id(conversation.id)
    if side is Side.buyer:
        conversation.buyer_read_up_to = newest
    else:
        conversation.seller_read_up_to = newest
    await session.flush()
    # Messages are appended under the same row lock, so none can have arrived since.
    return ConversationView(conversation, role, 0)


async def messages(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    user: User,
    seller: SellerProfile | None,
    page: PageParams,
) -> tuple[list[Message], str | None]:
    """A conversation's messages, newest first. Reading does not move the read marker."""
    conversation, _role = await _get_for(session, conversation_id, user, seller)
    statement = MessageRepository(session).of_conversation(conversation.id)
    return await paginate(session, statement, keys=_NEWEST_FIRST, page=page, tag="messages")


async def send(
    session: AsyncSession,
    settings: Settings,
    conversation_id: uuid.UUID,
    user: User,
    seller: SellerProfile | None,
    text: str,
) -> Message:
    """A participant writes. Contact details are masked unless the conversation is about an
    order that has been paid."""
    text = _checked_body(settings, text, ["body", "body"])
    conversation, role = await _get_for(session, conversation_id, user, seller, lock=True)
    side = _participant(role)
    contact_details_allowed = False
    if conversation.order_id is not None:
        order, _actors = await order_service.get_for(session, conversation.order_id, user, seller)
        contact_details_allowed = order.paid_at is not None
    await _check_rate(session, settings, user)
    return await _post(
        session,
        conversation,
        user,
        side,
        text,
        contact_details_allowed=contact_details_allowed,
    )
