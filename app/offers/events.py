"""What an offer's steps announce (outbox events), named by its state machine
(`app.offers.state`); making an offer, which is no transition, announces `offer.created`."""

from app.core.events import EventType


class OfferEventType(EventType):
    created = "offer.created", "A buyer offered a price for one of the shop's listings."
    countered = "offer.countered", "The buyer or the shop answered an offer with another price."
    accepted = (
        "offer.accepted",
        "The offer was accepted: its stock is reserved for the buyer, who may check out at "
        "the agreed price until `pay_by`.",
    )
    declined = "offer.declined", "The buyer or the shop declined the offer."
    auto_declined = (
        "offer.auto_declined",
        "An offer (or a buyer's counter-offer) below the listing's floor was declined at once "
        "(the shop's webhooks hear of it; nobody is notified).",
    )
    withdrawn = "offer.withdrawn", "The buyer withdrew the offer before the shop answered."
    expired = (
        "offer.expired",
        "Nobody answered the offer in time, or the buyer did not check out an accepted offer "
        "by `pay_by` (its stock returned to the listing), or the buyer's or the shop's "
        "account was deleted (an accepted offer's stock returned too).",
    )
    purchased = (
        "offer.purchased",
        "The buyer checked out the accepted offer: an order at the agreed price (not paid yet).",
    )
