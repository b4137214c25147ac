from functools import partial
from typing import Any

from fastapi import APIRouter, Response, status

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.catalog.dependencies import Storage
from app.catalog.exceptions import ListingNotFound
from app.conversations import service
from app.conversations.dependencies import ConversationGuard
from app.conversations.exceptions import (
    CannotMessageOwnListing,
    ConversationNotFound,
    MessageRateLimited,
    NotAParticipant,
    ParticipantGone,
)
from app.conversations.schemas import (
    ConversationRead,
    ConversationStart,
    MessageCreate,
    MessageRead,
)
from app.conversations.views import conversation_read, message_read
from app.core.db import DbSession
from app.core.errors import AppError, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of
from app.orders.exceptions import OrderNotFound

conversations_router = APIRouter(
    prefix=f"{API_PREFIX}/conversations",
    tags=["messaging"],
    responses=error_responses(InvalidToken),
)


def _sending_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`error_responses` of a route that sends a message: the rate limit's 429 too (its
    `Retry-After` header is documented with every 429, by app.core.openapi)."""
    return error_responses(*errors, ParticipantGone, MessageRateLimited)


@conversations_router.post(
    "",
    summary="Start a conversation",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationRead,
    responses={
        200: {"model": ConversationRead, "description": "Your existing conversation about it"},
        **_sending_responses(ListingNotFound, OrderNotFound, CannotMessageOwnListing),
    },
)
async def start_conversation(
    body: ConversationStart,
    response: Response,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> ConversationRead:
    """Write to a seller about one of their live listings (`listing_id`), or about an order
    you bought (`order_id`); exactly one of the two. You have at most one conversation per
    listing and one per order: if it exists, the message is added to it and the answer is
    200 instead of 201. Messaging your own listing is refused (409
    `cannot_message_own_listing`); a listing that is not live, or an order that is not
    yours, is 404. Sending is rate-limited per person (429 `rate_limited` with
    `Retry-After`)."""
    view, created = await service.start(session, principal, body, settings=settings)
    if not created:
        response.status_code = status.HTTP_200_OK
    return conversation_read(view, storage)


@conversations_router.get(
    "",
    summary="List my conversations",
    response_model=Page[ConversationRead],
    responses=error_responses(InvalidCursor),
)
async def list_conversations(
    principal: CurrentPrincipal, session: DbSession, page: PageQuery, storage: Storage
) -> Page[ConversationRead]:
    """Your conversations as a buyer and, if you have a shop, as its seller, most recent
    activity first, each with your role, who you talk to (`counterpart`: name, and shop
    for a seller), the listing (title, thumbnail) and the order (status, total) it is about,
    a preview of the last message and how many messages from the other side you have not
    read. One query per page."""
    views, next_cursor = await service.list_for(session, principal, page=page)
    return page_of(views, next_cursor, partial(conversation_read, storage=storage))


@conversations_router.get(
    "/{conversation_id}",
    summary="Get a conversation",
    response_model=ConversationRead,
    responses=error_responses(ConversationNotFound),
)
async def get_conversation(
    conversation: ConversationGuard,
    principal: CurrentPrincipal,
    session: DbSession,
    storage: Storage,
) -> ConversationRead:
    """A conversation you take part in. Admins may read one about an order that has a
    dispute; any other is 404."""
    return conversation_read(await service.get_view(session, principal, conversation), storage)


@conversations_router.post(
    "/{conversation_id}/read",
    summary="Mark a conversation read",
    response_model=ConversationRead,
    responses=error_responses(ConversationNotFound, NotAParticipant),
)
async def mark_conversation_read(
    conversation: ConversationGuard,
    principal: CurrentPrincipal,
    session: DbSession,
    storage: Storage,
) -> ConversationRead:
    """Everything in the conversation up to now counts as read by you (your `unread_count`
    drops to 0). Sending a message does the same for what came before it."""
    return conversation_read(await service.mark_read(session, principal, conversation), storage)


@conversations_router.get(
    "/{conversation_id}/messages",
    summary="Read messages",
    response_model=Page[MessageRead],
    responses=error_responses(ConversationNotFound, InvalidCursor),
)
async def list_messages(
    conversation: ConversationGuard, session: DbSession, page: PageQuery
) -> Page[MessageRead]:
    """The conversation's messages, newest first; pass `next_cursor` back as `cursor` for
    older ones. Reading does not mark them read (see `POST .../read`)."""
    rows, next_cursor = await service.messages(session, conversation, page=page)
    return page_of(rows, next_cursor, message_read)


@conversations_router.post(
    "/{conversation_id}/messages",
    summary="Send a message",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageRead,
    responses=_sending_responses(ConversationNotFound, NotAParticipant),
)
async def send_message(
    conversation: ConversationGuard,
    body: MessageCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> MessageRead:
    """The buyer or the seller writes. Until the order is paid (always, in a conversation
    about a listing), e-mail addresses, phone numbers and links are replaced by `[hidden]`
    and the message is marked `masked`. Admins reading a disputed order's conversation may
    not write in it (403 `not_participant`). At most `MARKETPLACE_MESSAGE_RATE_LIMIT`
    messages per person in `MARKETPLACE_MESSAGE_RATE_WINDOW`; past it, 429 `rate_limited`
    with `Retry-After`."""
    message = await service.send(
        session, principal, conversation, text=body.body, settings=settings
    )
    return message_read(message)
