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
from app.auth.principal import Principal
from app.catalog import service as catalog_service
from app.config import Settings
from app.conversations.events import MessageEventType
from app.conversations.exceptions import (
    CannotMessageOwnListing,
    ConversationNotFound,
    MessageRateLimited,
    NotAParticipant,
    ParticipantGone,
)
from app.conversations.masking import mask_contact_details
from app.conversations.models import Conversation, Message, MessageKind, Side
from app.conversations.repository import (
    ConversationDetails,
    ConversationRepository,
    MessageRepository,
    details_of,
    with_details,
)
from app.conversations.schemas import ConversationRole, ConversationStart
from app.core import outbox
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.guards import Guarded
from app.core.pagination import PageParams, SortKey, paginate
from app.orders import service as order_service
from app.orders.exceptions import OrderNotFound
from app.orders.state import OrderActor
from app.sellers import service as sellers_service

_PREVIEW_LENGTH = 120
_BY_ACTIVITY = [
    SortKey(Conversation.last_message_at, descending=True),
    SortKey(Conversation.id, descending=True),
]
_NEWEST_FIRST = [SortKey(Message.id, descending=True)]


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation as one caller sees it, with what its screen shows."""

    conversation: Conversation
    role: ConversationRole
    details: ConversationDetails


async def _view(
    session: AsyncSession, principal: Principal, conversation: Conversation, role: ConversationRole
) -> ConversationView:
    _, details = await ConversationRepository(session).detailed(conversation.id, principal)
    return ConversationView(conversation, role, details)


def _role_of(conversation: Conversation, principal: Principal) -> ConversationRole:
    """The caller's part in a conversation their query found. Nobody is both buyer and
    seller: a seller cannot start one about their own listing or buy from themself."""
    if principal.acts_as_buyer and conversation.buyer_id == principal.user_id:
        return ConversationRole.buyer
    if principal.shop_id is not None and conversation.seller_id == principal.shop_id:
        return ConversationRole.seller
    # The query shows anyone else's conversation only to an admin, about a disputed order.
    return ConversationRole.admin


def _role(guarded: Guarded[Conversation, ConversationRole]) -> ConversationRole:
    (role,) = guarded.roles  # one part per caller: see `_role_of`
    return role


async def get_visible(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID, *, lock: bool
) -> Guarded[Conversation, ConversationRole]:
    """A conversation the caller takes part in, or (admins) one about a disputed order, with
    their role in it; anything else is a 404, decided by the query. `lock` holds its row for
    the rest of the transaction (messages are appended one at a time under it)."""
    conversation = await ConversationRepository(session).get_visible(
        principal, conversation_id, lock=lock
    )
    if conversation is None:
        raise ConversationNotFound()
    return Guarded(conversation, frozenset({_role_of(conversation, principal)}))


def _participant(role: ConversationRole) -> Side:
    if role is ConversationRole.admin:
        raise NotAParticipant("admins may read a disputed order's conversation, not write in it")
    return Side(role.value)


def _checked_body(settings: Settings, text: str, loc: list[str | int]) -> str:
    # The limit is a setting, so the schema (fixed at import) cannot hold it.
    if len(text) > settings.message_max_length:
        raise ValidationFailed(loc, f"at most {settings.message_max_length} characters")
    return text


async def _check_rate(session: AsyncSession, settings: Settings, sender_id: uuid.UUID) -> None:
    """At most `message_rate_limit` messages per sender in any `message_rate_window`, across
    conversations. Counted from the messages themselves, so every worker sees the same
    count; two messages racing at the limit may both pass, which a chat limit tolerates."""
    at = now()
    reached = await MessageRepository(session).rate_limit_reached_at(
        sender_id, at - settings.message_rate_window, settings.message_rate_limit
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
    sender_id: uuid.UUID,
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
        sender_id=sender_id,
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
        MessageEventType.created,
        seller_id=conversation.seller_id,
        data={
            "conversation_id": conversation.id,
            "message_id": message.id,
            "sender_id": sender_id,
            "recipient_id": recipient_id,
            "buyer_id": conversation.buyer_id,
            "seller_id": conversation.seller_id,
            "listing_id": conversation.listing_id,
            "order_id": conversation.order_id,
            "body": message.body,
        },
    )
    return message


async def post_offer_step(
    session: AsyncSession,
    *,
    buyer_id: uuid.UUID,
    seller_id: uuid.UUID,
    listing_id: uuid.UUID,
    sender_id: uuid.UUID,
    side: Side,
    text: str,
    offer_id: uuid.UUID,
) -> uuid.UUID:
    """A step of an offer as an `offer` message from its party (`sender_id` acting as
    `side`) in the buyer's conversation about the listing, started if there is none: its
    id. The offer's own event tells the other party, so no `message.created` is emitted,
    and the text is the platform's, so nothing is masked nor counted against the sender's
    message rate."""
    subject = Conversation(
        buyer_id=buyer_id,
        seller_id=seller_id,
        listing_id=listing_id,
        last_message_at=now(),
        last_message_preview="",
    )
    conversation, _ = await ConversationRepository(session).get_or_add(subject)
    message = Message(
        conversation_id=conversation.id,
        sender_id=sender_id,
        sender_role=side,
        body=text,
        kind=MessageKind.offer,
        offer_id=offer_id,
        created_at=now(),
    )
    await MessageRepository(session).add(message)
    conversation.last_message_at = message.created_at
    conversation.last_message_preview = _preview(text)
    if side is Side.buyer:
        conversation.buyer_read_up_to = message.id
    else:
        conversation.seller_read_up_to = message.id
    await session.flush()
    return conversation.id


async def start(
    session: AsyncSession, principal: Principal, data: ConversationStart, *, settings: Settings
) -> tuple[ConversationView, bool]:
    """Start a conversation with a listing's or an order's seller, or, if the caller already
    has one about it, append the message to that one: (the conversation, created)."""
    if not principal.acts_as_buyer:
        raise InsufficientScope("starting a conversation is a buyer's action, not a shop's")
    text = _checked_body(settings, data.message, ["body", "message"])
    if data.listing_id is not None:
        # Live listings only, as anyone sees them: not the caller's own drafts.
        listing = (await catalog_service.get_visible(session, None, data.listing_id)).subject
        if listing.seller.user_id == principal.user_id:
            raise CannotMessageOwnListing("this is your own listing")
        subject = Conversation(
            buyer_id=principal.user_id, seller_id=listing.seller_id, listing_id=listing.id
        )
        contact_details_allowed = False
    else:
        assert data.order_id is not None  # the schema requires exactly one
        order = await order_service.get_visible(session, principal, data.order_id, lock=False)
        if OrderActor.buyer not in order.roles:
            # The buyer starts it; the seller answers in it. Others must not learn it exists.
            raise OrderNotFound()
        subject = Conversation(
            buyer_id=principal.user_id, seller_id=order.subject.seller_id, order_id=order.subject.id
        )
        contact_details_allowed = order.subject.paid_at is not None
    await _check_rate(session, settings, principal.user_id)
    subject.last_message_at = now()
    subject.last_message_preview = ""
    conversation, created = await ConversationRepository(session).get_or_add(subject)
    await _post(
        session,
        conversation,
        principal.user_id,
        Side.buyer,
        text,
        contact_details_allowed=contact_details_allowed,
    )
    return await _view(session, principal, conversation, ConversationRole.buyer), created


async def list_for(
    session: AsyncSession, principal: Principal, *, page: PageParams
) -> tuple[list[ConversationView], str | None]:
    """The caller's conversations as buyer and as seller, most recent activity first, with
    their details (one query for the page)."""
    statement = with_details(ConversationRepository(session).of_participant(principal), principal)
    rows, cursor = await paginate(session, statement, keys=_BY_ACTIVITY, page=page, tag="activity")
    views = []
    for row in rows:
        conversation, details = details_of(row)
        views.append(ConversationView(conversation, _role_of(conversation, principal), details))
    return views, cursor


async def get_view(
    session: AsyncSession, principal: Principal, guarded: Guarded[Conversation, ConversationRole]
) -> ConversationView:
    return await _view(session, principal, guarded.subject, _role(guarded))


async def mark_read(
    session: AsyncSession, principal: Principal, guarded: Guarded[Conversation, ConversationRole]
) -> ConversationView:
    """Everything in the conversation up to now is read by the caller (a participant, whose
    guard holds the conversation's row lock)."""
    conversation, role = guarded.subject, _role(guarded)
    side = _participant(role)
    newest = await ConversationRepository(session).newest_message_id(conversation.id)
    if side is Side.buyer:
        conversation.buyer_read_up_to = newest
    else:
        conversation.seller_read_up_to = newest
    await session.flush()
    # Messages are appended under the same row lock, so none can have arrived since.
    return await _view(session, principal, conversation, role)


async def messages(
    session: AsyncSession, guarded: Guarded[Conversation, ConversationRole], *, page: PageParams
) -> tuple[list[Message], str | None]:
    """A conversation's messages, newest first. Reading does not move the read marker."""
    statement = MessageRepository(session).of_conversation(guarded.subject.id)
    return await paginate(session, statement, keys=_NEWEST_FIRST, page=page, tag="messages")


async def send(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[Conversation, ConversationRole],
    *,
    text: str,
    settings: Settings,
) -> Message:
    """A participant writes (under the conversation's row lock, which their guard holds).
    Contact details are masked unless the conversation is about an order that has been
    paid."""
    text = _checked_body(settings, text, ["body", "body"])
    conversation = guarded.subject
    side = _participant(_role(guarded))
    contact_details_allowed = False
    if conversation.order_id is not None:
        order = await order_service.get_visible(
            session, principal, conversation.order_id, lock=False
        )
        contact_details_allowed = order.subject.paid_at is not None
    await _check_rate(session, settings, principal.user_id)
    return await _post(
        session,
        conversation,
        principal.user_id,
        side,
        text,
        contact_details_allowed=contact_details_allowed,
    )
