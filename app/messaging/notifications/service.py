"""Notifications: written by the outbox subscriber in the transaction of the change they
announce, read and marked read by their recipient."""

import logging
import string
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import User
from app.auth.principal import Principal
from app.config import Settings
from app.core.clock import now
from app.core.errors import NotFound
from app.core.mail.queue import queue
from app.core.mail.unsubscribe import read_unsubscribe_token
from app.core.money import format_money
from app.core.outbox import OutboxEvent
from app.core.pagination import PageParams, SortKey, paginate
from app.core.text import human_time
from app.messaging.notifications.exceptions import (
    NotificationNotFound,
    UnsubscribeLinkInvalid,
)
from app.messaging.notifications.models import Notification, ResourceType
from app.messaging.notifications.repository import NotificationRepository
from app.messaging.notifications.rules import EMAIL, RULES, Audience, ByEmail, Rule
from app.orders.models import OrderStatus

logger = logging.getLogger(__name__)

_BODY_LENGTH = 500
_MESSAGE_EXCERPT = 200
_MONEY_FACTS = ("total", "amount", "refund")
_TIME_FACTS = ("ship_by", "auto_complete_at", "respond_by")
_TEXT_FACTS = (
    "carrier",
    "carrier_name",
    "tracking_number",
    "description",
    "reason",
    "failure_reason",
    "title",
    "name",
    "prefix",
    "quantity",
)


def _excerpt(text: str, length: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def facts_of(data: dict[str, Any]) -> dict[str, str]:
    """What a body's wording may name, as text, from an event's data: amounts as `15.00 USD`,
    times as `7 Dec 2026, 14:05 UTC`, a message's words as an excerpt. A value the event
    lacks (or holds as null) is absent, so a wording naming it is skipped."""
    facts: dict[str, str] = {}
    for key in _MONEY_FACTS:
        money = data.get(key)
        if isinstance(money, dict) and isinstance(money.get("amount"), int):
            facts[key] = format_money(money["amount"], str(money.get("currency")))
    for key in _TIME_FACTS:
        value = data.get(key)
        if isinstance(value, str):
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                continue
            facts[key] = human_time(at)
    for key in _TEXT_FACTS:
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            facts[key] = _excerpt(str(value), _MESSAGE_EXCERPT).rstrip(".")
    message = data.get("body")
    if isinstance(message, str) and message.strip():
        facts["message"] = _excerpt(message, _MESSAGE_EXCERPT)
    return facts


def render_body(rule: Rule, data: dict[str, Any]) -> str:
    """The first of the rule's wordings whose fields the event has."""
    facts = facts_of(data)
    for wording in rule.body:
        fields = {name for _, name, _, _ in string.Formatter().parse(wording) if name}
        if fields <= facts.keys():
            return _excerpt(wording.format_map(facts), _BODY_LENGTH)
    # A rule's last wording names only what its event always has; if an event lacks it,
    # the notification still goes out rather than the change that caused it failing.
    logger.warning("no body wording of a notification rule fits its event's data")
    return rule.title


def _link(rule: Rule, data: dict[str, Any]) -> tuple[ResourceType | None, uuid.UUID | None]:
    resource_id = _id_in(data, rule.link.key)
    return (rule.link.type, resource_id) if resource_id is not None else (None, None)


def _id_in(data: dict[str, Any], key: str) -> uuid.UUID | None:
    """The id the event's data holds under `key` (a user's, or what a notice links to)."""
    value = data.get(key)
    return uuid.UUID(value) if isinstance(value, str) else None


def _wanted(event: OutboxEvent, audience: Audience) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Whom the event's rule names: (users by id, shops whose owner it is), before knowing
    whose account still exists."""
    buyer, shop = _id_in(event.data, "buyer_id"), event.seller_id
    users: set[uuid.UUID | None]
    shops: set[uuid.UUID | None] = set()
    if audience is Audience.buyer:
        users = {buyer}
    elif audience is Audience.seller:
        users, shops = set(), {shop}
    elif audience is Audience.recipient:
        users = {_id_in(event.data, "recipient_id")}
    elif audience is Audience.reviewed:
        about_buyer = event.data.get("about") == "buyer"
        users, shops = ({buyer}, set()) if about_buyer else (set(), {shop})
    else:
        users = {buyer}
        # An order that was never paid is none of the shop's business: it never heard of it.
        if event.data.get("previous_status") != OrderStatus.pending_payment:
            shops = {shop}
    return {u for u in users if u is not None}, {s for s in shops if s is not None}


def _recipients(
    event: OutboxEvent, audience: Audience, live: auth_service.LiveAccounts
) -> set[uuid.UUID]:
    """The live accounts the event's rule names; a party is not told of their own act."""
    users, shops = _wanted(event, audience)
    found = (users & live.users) | {live.shop_owners[s] for s in shops if s in live.shop_owners}
    if audience is Audience.parties:
        found -= {_id_in(event.data, "actor_id")}
    return found


async def on_events(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """Outbox subscriber: one notification per person each event's rule names, for all the
    events of a change in one query and one insert."""
    ruled = [(event, RULES[event.type]) for event in events if event.type in RULES]
    if not ruled:
        return
    wanted = [_wanted(event, rule.audience) for event, rule in ruled]
    live = await auth_service.live_accounts(
        session, set().union(*(u for u, _ in wanted)), set().union(*(s for _, s in wanted))
    )
    for event, rule in ruled:
        body = render_body(rule, event.data)
        resource_type, resource_id = _link(rule, event.data)
        for user_id in sorted(_recipients(event, rule.audience, live)):
            _mail(session, event, rule, body, user_id, live.contacts.get(user_id))
            session.add(
                Notification(
                    user_id=user_id,
                    type=event.type,
                    title=rule.title,
                    body=body,
                    resource_type=resource_type,
                    resource_id=resource_id,
                    data=event.data,
                    event_id=event.id,
                    created_at=event.occurred_at,
                )
            )
    await session.flush()


def _mail(
    session: AsyncSession,
    event: OutboxEvent,
    rule: Rule,
    body: str,
    user_id: uuid.UUID,
    contact: auth_service.Contact | None,
) -> None:
    """The notification by email too, if its kind is mailed and the person has not turned
    it off; once per event and person (the key holds both)."""
    by_email = EMAIL.get(event.type)
    if by_email is None or contact is None:
        return
    if by_email is ByEmail.optional and event.type in contact.email_opt_outs:
        return
    queue(
        session,
        to=contact.email,
        template="notification",
        context={"display_name": contact.display_name, "title": rule.title, "body": body},
        user_id=user_id,
        topic=event.type if by_email is ByEmail.optional else None,
        dedup_key=f"{event.id}:{user_id}",
    )


async def notify(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    type_: str,
    title: str,
    body: str,
    resource: tuple[ResourceType, uuid.UUID] | None,
    data: dict[str, Any],
) -> Notification:
    """A platform notice that is no domain event (e.g. a webhook endpoint was disabled)."""
    resource_type, resource_id = resource if resource is not None else (None, None)
    return await NotificationRepository(session).add(
        Notification(
            user_id=user_id,
            type=type_,
            title=title,
            body=body,
            resource_type=resource_type,
            resource_id=resource_id,
            data=data,
            created_at=now(),
        )
    )


async def list_for(
    session: AsyncSession, principal: Principal, page: PageParams, *, unread_only: bool
) -> tuple[list[Notification], str | None]:
    statement = NotificationRepository(session).of_user(principal.user_id, unread_only=unread_only)
    return await paginate(
        session, statement, keys=[SortKey(Notification.id, descending=True)], page=page
    )


async def unread_count(session: AsyncSession, principal: Principal) -> int:
    return await NotificationRepository(session).unread_count(principal.user_id)


async def get_own(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID, *, lock: bool
) -> Notification:
    """One of the caller's notifications; 404 for anyone else's, decided by the query.
    `lock` holds its row for the rest of the transaction."""
    notification = await NotificationRepository(session).get_of_user(
        notification_id, principal.user_id, lock=lock
    )
    if notification is None:
        raise NotificationNotFound()
    return notification


async def mark_read(session: AsyncSession, notification: Notification) -> None:
    """Marking again is harmless: the first read time stays."""
    if notification.read_at is None:
        notification.read_at = now()
        await session.flush()


async def mark_all_read(session: AsyncSession, principal: Principal) -> int:
    return await NotificationRepository(session).mark_all_read(principal.user_id, now())


def email_preferences(user: User) -> list[tuple[str, str, bool, bool]]:
    """(kind, title, mailed, can be turned off) for every kind that can come by email."""
    return [
        (
            kind,
            RULES[kind].title,
            by_email is ByEmail.always or kind not in user.email_opt_outs,
            by_email is ByEmail.optional,
        )
        for kind, by_email in EMAIL.items()
    ]


async def update_email_preferences(
    session: AsyncSession, principal: Principal, changes: dict[str, bool]
) -> User:
    """`changes` names only kinds that may be turned off (the request schema sees to it)."""
    user = principal.user
    await auth_service.change_email_opt_outs(
        session,
        user,
        turn_off=[kind for kind, enabled in changes.items() if not enabled],
        turn_on=[kind for kind, enabled in changes.items() if enabled],
    )
    return user


async def unsubscribe(session: AsyncSession, settings: Settings, token: str) -> str:
    """The one-click link of a notification mail: turns its kind off for its addressee."""
    named = read_unsubscribe_token(settings, token)
    if named is None or EMAIL.get(named[1]) is not ByEmail.optional:
        raise UnsubscribeLinkInvalid()
    user_id, kind = named
    try:
        user = await auth_service.get_user(session, user_id)
    except NotFound as error:  # the account was deleted since the mail was sent
        raise UnsubscribeLinkInvalid() from error
    await auth_service.change_email_opt_outs(session, user, turn_off=[kind])
    return kind
