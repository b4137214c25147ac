"""Who hears about which event, in what words, and what it links to: data, not code paths."""

from dataclasses import dataclass
from enum import StrEnum

from app.auth.events import AccountEventType
from app.catalog.events import ListingEventType, ListingReportEventType
from app.conversations.events import MessageEventType
from app.core.events import EventType
from app.disputes.events import DisputeEventType, ReturnEventType
from app.logistics.events import ShipmentEventType
from app.messaging.notifications.models import ResourceType
from app.offers.events import OfferEventType
from app.orders.events import OrderEventType
from app.payments.events import PayoutEventType
from app.reviews.events import ReviewEventType
from app.watchlists.events import WatchlistEventType


class Audience(StrEnum):
    buyer = "buyer"
    seller = "seller"
    parties = "parties"
    """Buyer and seller, except whoever caused the event; the seller only about an order
    that had been paid (an unpaid order is no news to a shop: it hears of it once paid)."""
    reviewed = "reviewed"
    """The person a published review is about (`about` in the event)."""
    recipient = "recipient"
    """The user named by `recipient_id` (a message's addressee, a new API key's owner, a
    reporter)."""


@dataclass(frozen=True, slots=True)
class Link:
    """The resource a notification opens: its type, and the event's key holding its id."""

    type: ResourceType
    key: str


ORDER = Link(ResourceType.order, "order_id")
RETURN = Link(ResourceType.return_request, "return_id")
DISPUTE = Link(ResourceType.dispute, "dispute_id")
REVIEW = Link(ResourceType.review, "review_id")
PAYOUT = Link(ResourceType.payout, "payout_id")
LISTING = Link(ResourceType.listing, "listing_id")
CONVERSATION = Link(ResourceType.conversation, "conversation_id")
API_KEY = Link(ResourceType.api_key, "api_key_id")


@dataclass(frozen=True, slots=True)
class Rule:
    audience: Audience
    title: str
    body: tuple[str, ...]
    """The body's wordings, most specific first: the first whose `{fields}` the event has
    (see `service.facts_of`) is used, so the last one names none, or only sure ones."""
    link: Link


def _order(title: str, audience: Audience, *body: str) -> Rule:
    return Rule(audience, title, body, ORDER)


RULES: dict[str, Rule] = {
    OrderEventType.paid: _order(
        "Order paid: please ship it",
        Audience.seller,
        "A buyer paid {total} for an order. Ship it before {ship_by}.",
        "A buyer paid {total} for an order. Ship it now.",
    ),
    OrderEventType.shipped: _order(
        "Your order has shipped",
        Audience.buyer,
        "Your order of {total} is on its way with {carrier_name}.",
        "Your order of {total} is on its way with {carrier}.",
        "Your order of {total} is on its way.",
    ),
    OrderEventType.delivery_window_ending: _order(
        "Confirm receipt or report a problem before the order completes",
        Audience.buyer,
        "Your order of {total} completes on its own on {auto_complete_at}. Confirm receipt, "
        "or open a dispute before then if something is wrong.",
        "Your order of {total} completes on its own soon. Confirm receipt, or open a "
        "dispute if something is wrong.",
    ),
    OrderEventType.completed: _order(
        "Order completed",
        Audience.seller,
        "The order of {total} is complete; its proceeds are in your balance.",
    ),
    OrderEventType.cancelled: _order(
        "Order cancelled",
        Audience.parties,
        "The order of {total} was cancelled: {reason}.",
        "The order of {total} was cancelled.",
    ),
    OrderEventType.undelivered_refunded: _order(
        "Order refunded: the parcel never arrived",
        Audience.parties,
        "The carrier lost the parcel of the order of {total} or sent it back, and nothing "
        "changed since: the buyer was refunded in full.",
    ),
    ShipmentEventType.corrected: _order(
        "Your parcel's tracking number was corrected",
        Audience.buyer,
        "The seller corrected your parcel's tracking: {carrier_name}, number {tracking_number}.",
        "The seller corrected your parcel's tracking number.",
    ),
    ShipmentEventType.in_transit: _order(
        "Your parcel is on its way",
        Audience.buyer,
        "{carrier_name} has your parcel ({tracking_number}) and it is moving.",
        "The carrier has your parcel and it is moving.",
    ),
    ShipmentEventType.out_for_delivery: _order(
        "Your parcel arrives today",
        Audience.buyer,
        "{carrier_name} is delivering your parcel ({tracking_number}) today.",
        "The carrier is delivering your parcel today.",
    ),
    ShipmentEventType.delivered: _order(
        "Parcel delivered",
        Audience.buyer,
        "The carrier delivered a parcel of your order of {total}. Confirm receipt, or report "
        "a problem before {auto_complete_at}, when the order completes on its own.",
        "The carrier delivered a parcel of your order of {total}.",
    ),
    ShipmentEventType.return_delivered: Rule(
        Audience.seller,
        "The returned parcel reached you: inspect it",
        (
            "The parcel the buyer sent back was delivered to you. Inspect it and confirm "
            "receipt (which refunds the buyer); otherwise the return counts as received after "
            "the inspection time.",
        ),
        RETURN,
    ),
    ShipmentEventType.exception: _order(
        "A problem with your parcel",
        Audience.parties,
        "{carrier_name} reports a problem with a parcel of the order of {total}: "
        "{description}. The order will not complete on its own meanwhile; the buyer may "
        "open a dispute.",
        "The carrier reports a problem with a parcel of the order of {total}. The order will "
        "not complete on its own meanwhile; the buyer may open a dispute.",
    ),
    ShipmentEventType.returned_to_sender: _order(
        "Parcel going back to the seller",
        Audience.parties,
        "A parcel of the order of {total} is being returned to the seller. The order will "
        "not complete on its own; the buyer may open a dispute.",
    ),
    ReturnEventType.requested: Rule(
        Audience.seller,
        "Return requested",
        (
            "The buyer of an order of {total} asks to return items: {reason}. Approve or "
            "reject the request before {respond_by}, or it is approved.",
            "The buyer of an order of {total} asks to return items: {reason}. Approve or "
            "reject the request.",
            "The buyer of an order of {total} asks to return items. Approve or reject the request.",
        ),
        RETURN,
    ),
    ReturnEventType.approved: Rule(
        Audience.buyer,
        "Return approved: please ship it back",
        ("The seller approved your return. Ship the items back and enter the tracking number.",),
        RETURN,
    ),
    ReturnEventType.rejected: Rule(
        Audience.buyer,
        "Return rejected",
        ("The seller rejected your return: {reason}.", "The seller rejected your return."),
        RETURN,
    ),
    ReturnEventType.shipped_back: Rule(
        Audience.seller,
        "Returned item on its way back",
        ("The buyer shipped the returned items back. Mark them received when they arrive.",),
        RETURN,
    ),
    ReturnEventType.received: Rule(
        Audience.buyer,
        "Return received: refund issued",
        (
            "The seller received your returned items and refunded {refund}.",
            "The seller received your returned items; your refund was issued.",
        ),
        RETURN,
    ),
    DisputeEventType.opened: Rule(
        Audience.seller,
        "A dispute was opened on your order",
        (
            "The buyer of an order of {total} opened a dispute. Answer it before "
            "{respond_by}, or it is decided for the buyer.",
            "The buyer of an order of {total} opened a dispute. Answer it before the "
            "deadline, or it is decided for the buyer.",
        ),
        DISPUTE,
    ),
    DisputeEventType.answered: Rule(
        Audience.parties,
        "New answer in your dispute",
        (
            "There is a new answer in the dispute about an order of {total}; the next answer "
            "is due by {respond_by}.",
            "There is a new answer in the dispute about an order of {total}.",
        ),
        DISPUTE,
    ),
    DisputeEventType.escalated: Rule(
        Audience.parties,
        "Dispute escalated to the platform",
        ("The dispute about an order of {total} went to the platform, which will decide it.",),
        DISPUTE,
    ),
    DisputeEventType.resolved: Rule(
        Audience.parties,
        "Dispute resolved",
        ("The dispute about an order of {total} was resolved.",),
        DISPUTE,
    ),
    ReviewEventType.published: Rule(
        Audience.reviewed,
        "You have a new review",
        ("A review of you, for an order of {total}, was published.",),
        REVIEW,
    ),
    PayoutEventType.paid: Rule(
        Audience.seller,
        "Payout sent",
        ("Your payout of {amount} was sent to your bank account.",),
        PAYOUT,
    ),
    PayoutEventType.failed: Rule(
        Audience.seller,
        "Payout failed: the money is back in your balance",
        (
            "Your payout of {amount} failed ({failure_reason}); the money is back in your "
            "available balance.",
            "Your payout of {amount} failed; the money is back in your available balance.",
        ),
        PAYOUT,
    ),
    ListingEventType.low_stock: Rule(
        Audience.seller,
        "Listing running low on stock",
        ("Only {quantity} left of “{title}”.",),
        LISTING,
    ),
    ListingEventType.approved: Rule(
        Audience.seller,
        "Listing approved",
        ("“{title}” was approved and is live.",),
        LISTING,
    ),
    ListingEventType.rejected: Rule(
        Audience.seller,
        "Listing rejected",
        ("“{title}” was rejected: {reason}.", "“{title}” was rejected."),
        LISTING,
    ),
    ListingEventType.removed: Rule(
        Audience.seller,
        "Listing removed by the platform",
        ("“{title}” was removed by the platform: {reason}.", "“{title}” was removed."),
        LISTING,
    ),
    MessageEventType.created: Rule(
        Audience.recipient,
        "New message",
        ("{message}", "You have a new message."),
        CONVERSATION,
    ),
    # An offer's steps are told to the other party (the buyer, or the shop's owner), and link
    # to the conversation where they show.
    OfferEventType.created: Rule(
        Audience.parties,
        "New offer",
        ("{amount} offered for “{title}” (quantity {quantity}).", "You received an offer."),
        CONVERSATION,
    ),
    OfferEventType.countered: Rule(
        Audience.parties,
        "Counter-offer",
        ("{amount} proposed for “{title}” (quantity {quantity}).", "Your offer was countered."),
        CONVERSATION,
    ),
    OfferEventType.accepted: Rule(
        Audience.parties,
        "Offer accepted",
        ("{amount} for “{title}” was accepted.", "An offer was accepted."),
        CONVERSATION,
    ),
    OfferEventType.declined: Rule(
        Audience.parties,
        "Offer declined",
        ("{amount} for “{title}” was declined.", "An offer was declined."),
        CONVERSATION,
    ),
    OfferEventType.withdrawn: Rule(
        Audience.parties,
        "Offer withdrawn",
        ("The offer of {amount} for “{title}” was withdrawn.", "An offer was withdrawn."),
        CONVERSATION,
    ),
    OfferEventType.expired: Rule(
        Audience.parties,
        "Offer expired",
        ("The offer of {amount} for “{title}” expired.", "An offer expired."),
        CONVERSATION,
    ),
    # A security notice: a key is lasting access to the shop, so its owner hears of every
    # new one at once (a webhook never does: the event names no shop).
    AccountEventType.api_key_created: Rule(
        Audience.recipient,
        "A new API key was created: if it was not you, revoke it",
        (
            "The API key “{name}” ({prefix}…) can now act for your account. If you did not "
            "create it, revoke it.",
        ),
        API_KEY,
    ),
    ListingReportEventType.dismissed: Rule(
        Audience.recipient,
        "Your report was reviewed",
        (
            "We reviewed your report of “{title}” and found no reason to remove it.",
            "We reviewed your report and found no reason to remove the listing.",
        ),
        LISTING,
    ),
    ListingReportEventType.upheld: Rule(
        Audience.recipient,
        "A listing you reported was removed",
        (
            "Thank you: “{title}”, which you reported, was removed.",
            "Thank you: the listing you reported was removed.",
        ),
        LISTING,
    ),
    # Told to the person who keeps the favourite or the search; each links to a listing
    # (a digest or a notice of several: the newest).
    WatchlistEventType.price_dropped: Rule(
        Audience.recipient,
        "A favourite is cheaper",
        ("“{title}” is now {amount}.", "A listing you favourited is cheaper now."),
        LISTING,
    ),
    WatchlistEventType.back_in_stock: Rule(
        Audience.recipient,
        "A favourite is back in stock",
        ("“{title}” is for sale again.", "A listing you favourited is for sale again."),
        LISTING,
    ),
    WatchlistEventType.saved_search_matched: Rule(
        Audience.recipient,
        "New listings for your saved search",
        (
            "{quantity} new listings match your saved search “{name}”.",
            "“{title}” matches your saved search “{name}”.",
            "A new listing matches your saved search.",
        ),
        LISTING,
    ),
    WatchlistEventType.saved_search_digest: Rule(
        Audience.recipient,
        "Your saved search's daily digest",
        (
            "{quantity} new listings matched your saved search “{name}” today.",
            "“{title}” matched your saved search “{name}” today.",
            "New listings matched your saved search today.",
        ),
        LISTING,
    ),
}
"""Keyed by the registry's event types (`app.messaging.events`)."""


class ByEmail(StrEnum):
    """Whether a notification of a kind is mailed too."""

    optional = "optional"
    """Mailed unless its addressee turned the kind off (one-click unsubscribe included)."""
    always = "always"
    """Security notices: mailed whatever the settings say."""


EMAIL: dict[str, ByEmail] = {
    OrderEventType.paid: ByEmail.optional,
    OrderEventType.shipped: ByEmail.optional,
    OrderEventType.delivery_window_ending: ByEmail.optional,
    OrderEventType.cancelled: ByEmail.optional,
    OrderEventType.undelivered_refunded: ByEmail.optional,
    ShipmentEventType.out_for_delivery: ByEmail.optional,
    ShipmentEventType.delivered: ByEmail.optional,
    ShipmentEventType.exception: ByEmail.optional,
    ShipmentEventType.returned_to_sender: ByEmail.optional,
    ShipmentEventType.return_delivered: ByEmail.optional,
    ReturnEventType.requested: ByEmail.optional,
    ReturnEventType.approved: ByEmail.optional,
    ReturnEventType.rejected: ByEmail.optional,
    ReturnEventType.shipped_back: ByEmail.optional,
    ReturnEventType.received: ByEmail.optional,
    DisputeEventType.opened: ByEmail.optional,
    DisputeEventType.answered: ByEmail.optional,
    DisputeEventType.escalated: ByEmail.optional,
    DisputeEventType.resolved: ByEmail.optional,
    ReviewEventType.published: ByEmail.optional,
    PayoutEventType.paid: ByEmail.optional,
    PayoutEventType.failed: ByEmail.optional,
    ListingEventType.approved: ByEmail.optional,
    ListingEventType.rejected: ByEmail.optional,
    ListingEventType.removed: ByEmail.optional,
    AccountEventType.api_key_created: ByEmail.always,
}
"""The notification kinds (keys of `RULES`) that are mailed as well; the rest stay in the
API (`GET /v1/notifications`): messages, low stock, report outcomes, completion."""

SILENT: frozenset[EventType] = frozenset(
    {
        OrderEventType.created,
        OfferEventType.auto_declined,
        OfferEventType.purchased,
        ShipmentEventType.created,
        OrderEventType.disputed,
        OrderEventType.refunded,
        OrderEventType.partially_refunded,
    }
)
"""Events nobody is notified of. An order created is not paid yet: the buyer knows, and the
shop hears of it when it is paid (`order.paid`). A parcel handed to the carrier is told by
`order.shipped` (with the carrier) and then by its scans. The dispute's or the return's own event
already tells the parties of a dispute opened or resolved, a return received and refunded.
An offer below the shop's floor is declined before the shop hears of it (the buyer sees the
answer at once); a checked-out offer is an order, told once paid."""
