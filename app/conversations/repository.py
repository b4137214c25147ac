import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, aliased

from app.auth.models import User
from app.auth.principal import Principal, any_of, party_conditions
from app.catalog.models import Listing, ListingImage
from app.conversations.models import Conversation, Message, MessageKind, Side
from app.core.repository import RepositoryBase
from app.disputes.models import Dispute
from app.orders.models import Order, OrderLine, OrderStatus
from app.sellers.models import SellerProfile

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


@dataclass(frozen=True, slots=True)
class ConversationDetails:
    """What a conversation's screen shows beyond the conversation's own row, read with it in
    the same query: the people, the listing, the order, the caller's unread count."""

    buyer_name: str
    seller_user_id: uuid.UUID
    seller_name: str
    shop_name: str
    listing_id: uuid.UUID | None
    """The listing it is about, or the first line's listing of the order it is about."""
    listing_title: str | None
    """That listing's title (for an order, as the line recorded it when bought)."""
    thumbnail_key: str | None
    """The storage key of that listing's first image; null: no image."""
    order_status: OrderStatus | None
    order_total: int | None
    order_currency: str | None
    order_item_count: int | None
    order_created_at: datetime | None
    unread_count: int


_BUYER = aliased(User, name="conversation_buyer")
_SELLER_USER = aliased(User, name="conversation_seller_user")


def _first_line() -> Select[uuid.UUID, str]:
    return (
        select(OrderLine.listing_id, OrderLine.title)
        .where(OrderLine.order_id == Conversation.order_id)
        .order_by(OrderLine.id)
        .limit(1)
    )


def _unread_count(principal: Principal) -> ColumnElement[int]:
    unread = [_unread_by(held, other, marker) for held, other, marker in _sides_of(principal)]
    return (
        select(func.count(Message.id))
        .where(Message.conversation_id == Conversation.id, any_of(unread))
        .scalar_subquery()
    )


def with_details(statement: Select[Conversation], principal: Principal) -> Select[Any]:
    """`statement`'s conversations with their details (see `ConversationDetails`) as extra
    columns: one query for a whole page, whatever is on it."""
    line_listing_id = _first_line().with_only_columns(OrderLine.listing_id).scalar_subquery()
    line_title = _first_line().with_only_columns(OrderLine.title).scalar_subquery()
    listing_id = func.coalesce(Conversation.listing_id, line_listing_id)
    thumbnail = (
        select(func.coalesce(ListingImage.thumbnail_key, ListingImage.storage_key))
        .where(ListingImage.listing_id == listing_id)
        .order_by(ListingImage.position, ListingImage.id)
        .limit(1)
        .scalar_subquery()
    )
    item_count = (
        select(func.sum(OrderLine.quantity))
        .where(OrderLine.order_id == Conversation.order_id)
        .scalar_subquery()
    )
    return (
        statement.join(_BUYER, _BUYER.id == Conversation.buyer_id)
        .join(SellerProfile, SellerProfile.id == Conversation.seller_id)
        .join(_SELLER_USER, _SELLER_USER.id == SellerProfile.user_id)
        .outerjoin(Listing, Listing.id == Conversation.listing_id)
        .outerjoin(Order, Order.id == Conversation.order_id)
        .add_columns(
            _BUYER.display_name.label("buyer_name"),
            SellerProfile.user_id.label("seller_user_id"),
            _SELLER_USER.display_name.label("seller_name"),
            SellerProfile.shop_name.label("shop_name"),
            listing_id.label("listing_id"),
            func.coalesce(Listing.title, line_title).label("listing_title"),
            thumbnail.label("thumbnail_key"),
            Order.status.label("order_status"),
            Order.total_amount.label("order_total"),
            Order.currency.label("order_currency"),
            item_count.label("order_item_count"),
            Order.created_at.label("order_created_at"),
            _unread_count(principal).label("unread_count"),
        )
    )


def details_of(row: Row[Any]) -> tuple[Conversation, ConversationDetails]:
    """A row of `with_details` (its page keys after the columns are ignored)."""
    values = row._mapping
    details = ConversationDetails(
        buyer_name=values["buyer_name"],
        seller_user_id=values["seller_user_id"],
        seller_name=values["seller_name"],
        shop_name=values["shop_name"],
        listing_id=values["listing_id"],
        listing_title=values["listing_title"],
        thumbnail_key=values["thumbnail_key"],
        order_status=values["order_status"],
        order_total=values["order_total"],
        order_currency=values["order_currency"],
        order_item_count=(
            int(values["order_item_count"]) if values["order_item_count"] is not None else None
        ),
        order_created_at=values["order_created_at"],
        unread_count=int(values["unread_count"] or 0),
    )
    return row[0], details


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

    async def detailed(
        self, conversation_id: uuid.UUID, principal: Principal
    ) -> tuple[Conversation, ConversationDetails]:
        """One conversation (already found visible to the caller) with its details."""
        statement = with_details(
            select(Conversation).where(Conversation.id == conversation_id), principal
        )
        row = (await self.session.execute(statement)).one()
        return details_of(row)

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
            .where(
                Message.sender_id == sender_id,
                Message.created_at > since,
                # An offer's steps are rate-limited as offers, not as chat.
                Message.kind == MessageKind.text,
            )
            .order_by(Message.created_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        reached: datetime | None = await self.session.scalar(statement)
        return reached
