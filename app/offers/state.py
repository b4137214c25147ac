"""An offer's lifecycle as data. The buyer proposes (`pending_seller`); the shop accepts,
declines or counters (`pending_buyer`); the buyer accepts, declines or counters back; the
buyer may withdraw an offer the shop has not answered. An accepted offer holds the stock
until `pay_by`: checking it out makes it `purchased`, else it `expired` and the stock
returns. Every pending proposal expires when unanswered; a buyer's proposal below the
listing's floor is declined at once (`offer.auto_declined`: the shop's webhooks hear of it,
no notification is sent). An open offer of an account being deleted (its buyer's or its
shop's) is closed at once: `expired`."""

from dataclasses import dataclass
from enum import StrEnum

from app.core.clock import now
from app.core.state import StateMachine, Transition
from app.offers.events import OfferEventType as E
from app.offers.models import Offer
from app.offers.models import OfferStatus as S


class OfferAction(StrEnum):
    accept = "accept"
    decline = "decline"
    counter = "counter"
    withdraw = "withdraw"
    checkout = "checkout"
    expire = "expire"
    auto_decline = "auto_decline"
    close = "close"
    """A party's account is being deleted."""


class OfferActor(StrEnum):
    buyer = "buyer"
    seller = "seller"
    system = "system"


@dataclass(frozen=True, slots=True)
class OfferStep:
    """What a transition is judged on: the offer, and whether the proposal being made now
    (a buyer's offer or counter-offer) is below the listing's floor."""

    offer: Offer
    below_floor: bool = False


def _standing(step: OfferStep) -> bool:
    """Its deadline has not passed (the worker may not have expired it yet)."""
    return now() < step.offer.expires_at


def _due(step: OfferStep) -> bool:
    return step.offer.expires_at <= now()


def _below_floor(step: OfferStep) -> bool:
    return step.below_floor


def _buyers_counter(step: OfferStep) -> S:
    return S.declined if step.below_floor else S.pending_seller


def _counter_event(reached: S) -> E:
    return E.auto_declined if reached is S.declined else E.countered


_BUYER = frozenset({OfferActor.buyer})
_SELLER = frozenset({OfferActor.seller})
_SYSTEM = frozenset({OfferActor.system})
_EXPIRE = Transition(S.expired, _SYSTEM, guard=_due, event=E.expired)
_CLOSE: Transition[S, OfferActor, OfferStep] = Transition(S.expired, _SYSTEM, event=E.expired)

OFFER_LIFECYCLE: StateMachine[S, OfferAction, OfferActor, OfferStep] = StateMachine(
    "offer",
    {
        (S.pending_seller, OfferAction.accept): Transition(
            S.accepted, _SELLER, guard=_standing, event=E.accepted
        ),
        (S.pending_seller, OfferAction.decline): Transition(
            S.declined, _SELLER, guard=_standing, event=E.declined
        ),
        (S.pending_seller, OfferAction.counter): Transition(
            S.pending_buyer, _SELLER, guard=_standing, event=E.countered
        ),
        (S.pending_seller, OfferAction.withdraw): Transition(
            S.withdrawn, _BUYER, guard=_standing, event=E.withdrawn
        ),
        (S.pending_seller, OfferAction.auto_decline): Transition(
            S.declined, _SYSTEM, guard=_below_floor, event=E.auto_declined
        ),
        (S.pending_seller, OfferAction.expire): _EXPIRE,
        (S.pending_seller, OfferAction.close): _CLOSE,
        (S.pending_buyer, OfferAction.accept): Transition(
            S.accepted, _BUYER, guard=_standing, event=E.accepted
        ),
        (S.pending_buyer, OfferAction.decline): Transition(
            S.declined, _BUYER, guard=_standing, event=E.declined
        ),
        (S.pending_buyer, OfferAction.counter): Transition(
            _buyers_counter, _BUYER, guard=_standing, event=_counter_event
        ),
        (S.pending_buyer, OfferAction.expire): _EXPIRE,
        (S.pending_buyer, OfferAction.close): _CLOSE,
        (S.accepted, OfferAction.checkout): Transition(
            S.purchased, _BUYER, guard=_standing, event=E.purchased
        ),
        # The stock it held returns to the listing.
        (S.accepted, OfferAction.expire): _EXPIRE,
        (S.accepted, OfferAction.close): _CLOSE,
    },
)
