"""The one registry of event types: every domain's, gathered here (messaging ranks above all
domains, so it may read them all). Notifications, webhooks and the API spec read it; the
domains' state machines name the members."""

from app.auth.events import AccountEventType
from app.catalog.events import ListingEventType, ListingReportEventType
from app.conversations.events import MessageEventType
from app.core.events import EventType
from app.disputes.events import DisputeEventType, ReturnEventType
from app.logistics.events import ShipmentEventType
from app.offers.events import OfferEventType
from app.orders.events import OrderEventType
from app.payments.events import PayoutEventType
from app.reviews.events import ReviewEventType
from app.watchlists.events import WatchlistEventType

WEBHOOK_EVENT_TYPES: tuple[EventType, ...] = (
    *OrderEventType,
    *ShipmentEventType,
    *OfferEventType,
    *ReturnEventType,
    *DisputeEventType,
    *ReviewEventType,
    *PayoutEventType,
    *ListingEventType,
    *MessageEventType,
)
"""The events that concern a shop, which its webhook endpoints may subscribe to, in the
order the API lists them."""

PERSONAL_EVENT_TYPES: tuple[EventType, ...] = (
    *AccountEventType,
    *ListingReportEventType,
    *WatchlistEventType,
)
"""Events told to one person that name no shop (a new API key, the outcome of a report):
no webhook hears them."""

ALL_EVENT_TYPES: tuple[EventType, ...] = (*WEBHOOK_EVENT_TYPES, *PERSONAL_EVENT_TYPES)
"""Every event a domain emits."""
