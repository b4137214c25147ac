import uuid
from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from app.conversations.models import MessageKind, Side
from app.core.money import Money
from app.core.schemas import (
    NOT_BLANK_PATTERN,
    DeprecatedSellerId,
    RequestSchema,
    Schema,
    ShopId,
)
from app.orders.models import OrderStatus

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


class Counterpart(Schema):
    """The other side of the conversation, as your screen names them."""

    id: uuid.UUID = Field(
        description="Their user id (a message's `sender_id`; for a shop, its owner's)"
    )
    display_name: str = Field(description="Their name (for a shop: its owner's)")
    role: Side = Field(description="Their part in it")
    shop_id: ShopId | None = Field(description="Their shop, when they are the seller")
    shop_name: str | None = Field(description="Their shop's name, when they are the seller")


class ConversationListing(Schema):
    """The listing it is about: for a conversation about an order, its first line's."""

    id: uuid.UUID
    title: str = Field(description="For an order: the title as bought")
    thumbnail_url: str | None = Field(description="The listing's first image; null: none")


class ConversationOrder(Schema):
    """The order it is about, in short."""

    id: uuid.UUID
    status: OrderStatus
    total: Money
    item_count: int = Field(description="Units bought, over all lines")
    created_at: datetime


class ConversationRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID | None = Field(description="Set when it is about a listing")
    order_id: uuid.UUID | None = Field(description="Set when it is about an order")
    buyer_id: uuid.UUID = Field(description="The buyer's user id")
    shop_id: ShopId
    seller_id: DeprecatedSellerId
    role: ConversationRole = Field(description="Your part in it")
    counterpart: Counterpart | None = Field(
        description="Who you talk to; null for an admin reading a disputed order's (who is "
        "neither side)"
    )
    listing: ConversationListing | None = Field(
        description="The listing it is about (for an order, its first line's)"
    )
    order: ConversationOrder | None = Field(description="The order it is about, if any")
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
    kind: MessageKind = Field(
        description="`text`: written by its sender; `offer`: a step of the offer `offer_id` "
        "(`GET /v1/offers/{id}`), written by the platform for its sender"
    )
    offer_id: uuid.UUID | None
    created_at: datetime
