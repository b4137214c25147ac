"""Conversations and messages as the API shows them."""

from app.conversations.models import Message
from app.conversations.schemas import ConversationRead, MessageRead
from app.conversations.service import ConversationView


def message_read(message: Message) -> MessageRead:
    return MessageRead.model_validate(message)


def conversation_read(view: ConversationView) -> ConversationRead:
    conversation = view.conversation
    return ConversationRead(
        id=conversation.id,
        listing_id=conversation.listing_id,
        order_id=conversation.order_id,
        buyer_id=conversation.buyer_id,
        seller_id=conversation.seller_id,
        role=view.role,
        last_message_at=conversation.last_message_at,
        last_message_preview=conversation.last_message_preview,
        unread_count=view.unread_count,
        created_at=conversation.created_at,
    )
