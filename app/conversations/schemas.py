import uuid
from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from app.conversations.models import Side
from app.core.schemas import NOT_BLANK_PATTERN, RequestSchema, Schema

_BODY_DESCRIPTION = (
    "At most `MARKETPLACE_MESSAGE_MAX_LENGTH` characters (2000 by default), not blank. Until "
    "the order is paid (always, about a listing), e-mail addresses, phone numbers and links "
    "are replaced by `[hidden]` before the message is stored."
)


class ConversationRole(StrEnum):
    """The caller's part in a conversation. `admin`: an admin reading it because its order is
    disputed."""

    buyer = "buyer"
    seller = "seller"
    admin = "admin"


class ConversationStart(RequestSchema):
    listing_id: uuid.UUID | None = Field(
        default=None, description="A live listing to ask about (exactly one of the two ids)"
    )
    order_id: uuid.UUID | None = Field(
        default=None, description="An order you bought (exactly one of the two ids)"
    )
    message: str = Field(
        min_length=1,
        pattern=NOT_BLANK_PATTERN,
        description=f"The first message. {_BODY_DESCRIPTION}",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "listing_id": "0190f1c2-0000-7000-8000-000000000000",
                    "message": "Is the leather case included?",
                }
            ],
            # Exactly one of the two ids, given and not null.
            "oneOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in ("listing_id", "order_id")
            ],
        },
    )

    @model_validator(mode="after")
    def _about_one_subject(self) -> Self:
        if (self.listing_id is None) == (self.order_id is None):
            raise ValueError("give exactly one of listing_id and order_id")
        return self


class MessageCreate(RequestSchema):
    body: str = Field(min_length=1, pattern=NOT_BLANK_PATTERN, description=_BODY_DESCRIPTION)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Could you ship it on Monday?"}]},
    )


class ConversationRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID | None = Field(description="Set when it is about a listing")
    order_id: uuid.UUID | None = Field(description="Set when it is about an order")
    buyer_id: uuid.UUID = Field(description="The buyer's user id")
    seller_id: uuid.UUID = Field(description="The seller's shop id")
    role: ConversationRole = Field(description="Your part in it")
    last_message_at: datetime
    last_message_preview: str = Field(description="The start of the newest message")
    unread_count: int = Field(
        description="Messages from the other side newer than your read marker (0 for admins)"
    )
    created_at: datetime


class MessageRead(Schema):
    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID = Field(description="The sender's user id (for the seller: its owner)")
    sender_role: Side
    body: str
    masked: bool = Field(description="Contact details in it were replaced by `[hidden]`")
    created_at: datetime
