"""Conversations and messages as the API shows them."""

from app.conversations.models import Message, Side
from app.conversations.schemas import (
    ConversationListing,
    ConversationOrder,
    ConversationRead,
    ConversationRole,
    Counterpart,
    MessageRead,
)
from app.conversations.service import ConversationView
from app.core.money import Money
from app.core.storage import MediaStorage


def message_read(message: Message) -> MessageRead:
    return MessageRead.model_validate(message)


def _counterpart(view: ConversationView) -> Counterpart | None:
    conversation, details = view.conversation, view.details
    if view.role is ConversationRole.buyer:
        return Counterpart(
            id=details.seller_user_id,
            display_name=details.seller_name,
            role=Side.seller,
            shop_id=conversation.seller_id,
            shop_name=details.shop_name,
        )
    if view.role is ConversationRole.seller:
        return Counterpart(
            id=conversation.buyer_id,
            display_name=details.buyer_name,
            role=Side.buyer,
            shop_id=None,
            shop_name=None,
        )
    return None


def conversation_read(view: ConversationView, storage: MediaStorage) -> ConversationRead:
    conversation, details = view.conversation, view.details
    listing = None
    if details.listing_id is not None and details.listing_title is not None:
        listing = ConversationListing(
            id=details.listing_id,
            title=details.listing_title,
            thumbnail_url=(
                storage.url(details.thumbnail_key) if details.thumbnail_key is not None else None
            ),
        )
    order = None
    if (
        conversation.order_id is not None
        and details.order_status is not None
        and details.order_total is not None
        and details.order_currency is not None
        and details.order_created_at is not None
    ):
        order = ConversationOrder(
            id=conversation.order_id,
            status=details.order_status,
            total=Money(amount=details.order_total, currency=details.order_currency),
            item_count=details.order_item_count or 0,
            created_at=details.order_created_at,
        )
    return ConversationRead(
        id=conversation.id,
        listing_id=conversation.listing_id,
        order_id=conversation.order_id,
        buyer_id=conversation.buyer_id,
        shop_id=conversation.seller_id,
        seller_id=conversation.seller_id,
        role=view.role,
        counterpart=_counterpart(view),
        listing=listing,
        order=order,
        last_message_at=conversation.last_message_at,
        last_message_preview=conversation.last_message_preview,
        unread_count=view.details.unread_count,
        created_at=conversation.created_at,
    )
