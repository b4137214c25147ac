"""Presenters: an offer as one of its parties sees it."""

from app.core.guards import Guarded
from app.core.money import Money
from app.offers.models import Offer, OfferParty
from app.offers.schemas import OfferRead, OfferRoundRead
from app.offers.state import OFFER_LIFECYCLE, OfferActor, OfferStep


def offer_read(guarded: Guarded[Offer, OfferActor]) -> OfferRead:
    offer, roles = guarded.subject, guarded.roles
    currency = offer.currency
    return OfferRead(
        id=offer.id,
        listing_id=offer.listing_id,
        seller_id=offer.seller_id,
        buyer_id=offer.buyer_id,
        your_role=OfferParty.buyer if OfferActor.buyer in roles else OfferParty.seller,
        status=offer.status,
        amount=Money(amount=offer.amount, currency=currency),
        quantity=offer.quantity,
        total=Money(amount=offer.amount * offer.quantity, currency=currency),
        proposed_by=offer.proposed_by,
        expires_at=offer.expires_at,
        accepted_at=offer.accepted_at,
        pay_by=offer.pay_by,
        checkout_id=offer.checkout_id,
        conversation_id=offer.conversation_id,
        rounds=[
            OfferRoundRead(
                by=r.by,
                amount=Money(amount=r.amount, currency=currency),
                quantity=r.quantity,
                created_at=r.created_at,
            )
            for r in offer.rounds
        ],
        allowed_actions=[
            action.value
            for action in OFFER_LIFECYCLE.allowed_actions(offer.status, roles, OfferStep(offer))
        ],
        created_at=offer.created_at,
        updated_at=offer.updated_at,
    )
