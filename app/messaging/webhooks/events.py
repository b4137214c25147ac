"""What a webhook event discloses: the API-key `read` scope of its resource, which a key
subscribing to it must hold. The event types themselves are the registry's
(`app.messaging.events.WEBHOOK_EVENT_TYPES`)."""

from app.auth.scopes import ApiKeyScope
from app.catalog.events import ListingEventType
from app.conversations.events import MessageEventType
from app.core.events import EventType
from app.disputes.events import DisputeEventType, ReturnEventType
from app.logistics.events import ShipmentEventType
from app.messaging.events import WEBHOOK_EVENT_TYPES
from app.offers.events import OfferEventType
from app.orders.events import OrderEventType
from app.payments.events import PayoutEventType
from app.reviews.events import ReviewEventType

_READ_SCOPE: dict[type[EventType], ApiKeyScope] = {
    OrderEventType: ApiKeyScope.orders_read,
    ShipmentEventType: ApiKeyScope.orders_read,
    OfferEventType: ApiKeyScope.orders_read,
    ReturnEventType: ApiKeyScope.returns_read,
    DisputeEventType: ApiKeyScope.disputes_read,
    ReviewEventType: ApiKeyScope.reviews_read,
    PayoutEventType: ApiKeyScope.payouts_read,
    ListingEventType: ApiKeyScope.listings_read,
    MessageEventType: ApiKeyScope.messages_read,
}
# Built at import, so a webhook event type without a scope fails at start-up.
_SCOPE_OF_EVENT = {event.value: _READ_SCOPE[type(event)] for event in WEBHOOK_EVENT_TYPES}


def read_scope_of(event_type: str) -> str:
    return _SCOPE_OF_EVENT[event_type]
