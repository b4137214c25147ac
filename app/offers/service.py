"""Offer use cases: a buyer proposes a price for a listing, the two sides answer each other
until one accepts (the stock is then reserved for the buyer), declines, withdraws or lets it
expire; an accepted offer is checked out at the agreed price.

Each step runs under the offer's row lock (its guard takes it) and writes the new state
with a compare-and-set on the old one, so of two racing steps (two accepts, an accept and
the expiry sweep) exactly one happens.

An offer or a buyer's counter-offer below the listing's floor is declined at once: the buyer
sees it `declined`, the shop's webhooks get `offer.auto_declined`, and nobody is notified.
So that the floor cannot be found by offering again and again, a buyer may not offer on a
listing at or below an amount of theirs declined there within the last `offer_ttl`."""

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import InsufficientScope
from app.auth.principal import Principal
from app.catalog import service as catalog_service
from app.catalog.exceptions import InsufficientStock, ListingUnavailable
from app.catalog.models import Listing, ListingStatus
from app.config import Settings
from app.conversations import service as conversation_service
from app.conversations.models import Side
from app.core import outbox
from app.core.clock import now
from app.core.errors import InvalidTransition
from app.core.events import EventType
from app.core.guards import Guarded
from app.core.ids import uuid7
from app.core.money import MAX_AMOUNT, Money, format_money, require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.offers.events import OfferEventType
from app.offers.exceptions import (
    OfferAbovePrice,
    OfferAlreadyOpen,
    OfferNotBelowPrice,
    OfferNotFound,
    OffersNotAccepted,
    OfferTooLow,
    TooManyOffers,
)
from app.offers.models import Offer, OfferParty, OfferRound, OfferStatus
from app.offers.repository import OfferRepository
from app.offers.schemas import OfferCheckout, OfferCounter, OfferCreate
from app.offers.state import OFFER_LIFECYCLE, OfferAction, OfferActor, OfferStep
from app.orders import checkout as checkout_service
from app.orders.exceptions import OrderTooLarge
from app.orders.schemas import CheckoutCreate

GuardedOffer = Guarded[Offer, OfferActor]
_SYSTEM = frozenset({OfferActor.system})
_NEWEST_FIRST = [SortKey(Offer.id, descending=True)]
_CLOSED_BY = {
    OfferStatus.declined,
    OfferStatus.withdrawn,
    OfferStatus.expired,
    OfferStatus.purchased,
}


def roles_of(offer: Offer, principal: Principal) -> frozenset[OfferActor]:
    """The caller's side of an offer their query found: its buyer (in person, never by API
    key) or its shop. Nobody holds both: an offer on one's own listing is refused."""
    roles: set[OfferActor] = set()
    if principal.acts_as_buyer and offer.buyer_id == principal.user_id:
        roles.add(OfferActor.buyer)
    if principal.shop_id is not None and offer.seller_id == principal.shop_id:
        roles.add(OfferActor.seller)
    return frozenset(roles)


async def get_visible(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, *, lock: bool
) -> GuardedOffer:
    """An offer the caller made or received, with their side of it; 404 for anybody else
    (admins included: an offer is the two parties' business), decided by the query."""
    offer = await OfferRepository(session).get_visible(principal, offer_id, lock=lock)
    if offer is None:
        raise OfferNotFound()
    return Guarded(offer, roles_of(offer, principal))


async def list_for(
    session: AsyncSession,
    principal: Principal,
    *,
    role: str | None,
    statuses: Collection[OfferStatus],
    page: PageParams,
) -> tuple[list[GuardedOffer], str | None]:
    """The caller's offers, as buyer, as seller or both, newest first."""
    statement = OfferRepository(session).of_party(principal, role=role, statuses=statuses)
    offers, cursor = await paginate(session, statement, keys=_NEWEST_FIRST, page=page, tag="new")
    return [Guarded(offer, roles_of(offer, principal)) for offer in offers], cursor


# --- the steps --------------------------------------------------------------------------------


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _terms(offer: Offer) -> str:
    each = format_money(offer.amount, offer.currency)
    return f"{each} each for {offer.quantity}" if offer.quantity > 1 else each


def _unit_price(listing: Listing, money: Money, loc: str) -> int:
    """An offered unit price: in the listing's currency and below its price."""
    amount = require_currency(money, listing.currency)
    if amount >= listing.price_amount:
        raise OfferNotBelowPrice(
            f"`{loc}` must be below the price, "
            f"{format_money(listing.price_amount, listing.currency)}: at the price, buy it"
        )
    return amount


def _require_payable(listing: Listing, amount: int, quantity: int) -> None:
    """The offer's total must be an amount one payment may be."""
    if amount * quantity > MAX_AMOUNT:
        raise OrderTooLarge(
            f"{quantity} at {format_money(amount, listing.currency)} each is more than one "
            f"payment may be ({format_money(MAX_AMOUNT, listing.currency)})"
        )


async def _require_above_declined(
    session: AsyncSession, buyer_id: uuid.UUID, listing: Listing, amount: int, settings: Settings
) -> None:
    """Refuse a buyer's proposal at or below the highest of theirs declined on the listing
    within the last `offer_ttl`, and any past `offers_per_listing` proposals in that time:
    together they keep the floor from being found by bisection (each probe costs one of a
    few proposals per `offer_ttl`)."""
    since = now() - settings.offer_ttl
    offers = OfferRepository(session)
    if await offers.buyer_proposals_since(buyer_id, listing.id, since) >= (
        settings.offers_per_listing
    ):
        raise TooManyOffers(
            f"at most {settings.offers_per_listing} offers or counters on one listing within "
            f"{settings.offer_ttl.total_seconds() / 3600:g} hours: wait for the shop, or buy "
            "at the price"
        )
    declined = await offers.highest_declined(buyer_id, listing.id, since)
    if declined is not None and amount <= declined:
        raise OfferTooLow(
            f"an offer at or below {format_money(declined, listing.currency)}, an amount already "
            "declined on this listing, won't be considered: offer more"
        )


_FOR_SALE = (ListingStatus.active, ListingStatus.sold_out)


def _require_for_sale(listing: Listing) -> None:
    """The listing is still for sale by an approved shop (sold out counts: an accepted
    offer's reservation may be what sold it out)."""
    if listing.status not in _FOR_SALE or not listing.seller_approved:
        raise ListingUnavailable(
            f"'{listing.title}' is not for sale now", extra={"listing_id": str(listing.id)}
        )


def _below_floor(listing: Listing, amount: int) -> bool:
    return listing.offer_floor_amount is not None and amount < listing.offer_floor_amount


def _require_stock(listing: Listing, quantity: int) -> None:
    if quantity > listing.quantity:
        raise InsufficientStock(
            f"only {listing.quantity} of '{listing.title}' left",
            extra={"listing_id": str(listing.id)},
        )


async def _listing(session: AsyncSession, listing_id: uuid.UUID) -> Listing:
    return (await catalog_service.many(session, [listing_id]))[listing_id]


async def _post(
    session: AsyncSession, offer: Offer, principal: Principal, side: Side, text: str
) -> None:
    """The step as an `offer` message of the acting party in the buyer's conversation
    about the listing (started with the offer)."""
    offer.conversation_id = await conversation_service.post_offer_step(
        session,
        buyer_id=offer.buyer_id,
        seller_id=offer.seller_id,
        listing_id=offer.listing_id,
        sender_id=principal.user_id,
        side=side,
        text=text,
        offer_id=offer.id,
    )


async def _announce(
    session: AsyncSession,
    offer: Offer,
    event: EventType | None,
    *,
    actor_id: uuid.UUID | None,
    previous: OfferStatus | None,
    title: str,
) -> None:
    """The event of a step, for the shop's webhooks and the other party's notification
    (the acting party, `actor_id`, is not told of their own step)."""
    if event is None:
        return
    await outbox.emit(
        session,
        event,
        seller_id=offer.seller_id,
        data={
            "offer_id": offer.id,
            "listing_id": offer.listing_id,
            "title": title,
            "buyer_id": offer.buyer_id,
            "seller_id": offer.seller_id,
            "actor_id": actor_id,
            "status": offer.status,
            "previous_status": previous,
            "amount": _money(offer.amount, offer.currency),
            "quantity": offer.quantity,
            "total": _money(offer.amount * offer.quantity, offer.currency),
            "proposed_by": offer.proposed_by,
            "expires_at": offer.expires_at,
            "pay_by": offer.pay_by,
            "checkout_id": offer.checkout_id,
            "conversation_id": offer.conversation_id,
        },
    )


async def _step(
    session: AsyncSession,
    offer: Offer,
    action: OfferAction,
    actors: frozenset[OfferActor],
    *,
    below_floor: bool = False,
    **values: Any,
) -> tuple[OfferStatus, OfferStatus]:
    """Apply `action` (409 `invalid_transition` unless the table allows it now) by
    compare-and-set, with the other `values` it brings: (from, to)."""
    before = offer.status
    reached = OFFER_LIFECYCLE.target(before, action, actors, OfferStep(offer, below_floor))
    at = now()
    closing = {"closed_at": at} if reached in _CLOSED_BY else {}
    moved = await OfferRepository(session).move(
        offer, before, status=reached, updated_at=at, **closing, **values
    )
    if not moved:  # changed since it was read: the other step won
        raise InvalidTransition(f"the offer is no longer {before.value}")
    await session.flush()
    return before, reached


def _acting(guarded: GuardedOffer) -> tuple[frozenset[OfferActor], Side, OfferParty]:
    """The caller's side; one holding neither (a shop's API key without the shop's role,
    say) hears that the offer does not exist."""
    if OfferActor.buyer in guarded.roles:
        return frozenset({OfferActor.buyer}), Side.buyer, OfferParty.buyer
    if OfferActor.seller in guarded.roles:
        return frozenset({OfferActor.seller}), Side.seller, OfferParty.seller
    raise OfferNotFound()


async def make(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    data: OfferCreate,
    *,
    settings: Settings,
) -> GuardedOffer:
    """A buyer's offer on a live listing that takes offers (not their own): a unit price
    below the listing's for at most its stock. One open offer per buyer and listing (the
    database's unique index decides between two racing ones). An offer below the listing's
    floor is declined at once: the buyer sees it `declined`; the shop's webhooks get
    `offer.auto_declined`, but nobody is notified and no message is posted. 422
    `offer_too_low` at or below an amount of the buyer's declined on the listing within
    the last `offer_ttl`."""
    if not principal.acts_as_buyer:
        raise InsufficientScope("making an offer is a buyer's action, not a shop's")
    listing = await catalog_service.purchasable(session, listing_id, principal.user)
    if not listing.accepts_offers:
        raise OffersNotAccepted(f"'{listing.title}' does not take offers: buy it at its price")
    amount = _unit_price(listing, data.amount, "amount")
    _require_payable(listing, amount, data.quantity)
    _require_stock(listing, data.quantity)
    await _require_above_declined(session, principal.user_id, listing, amount, settings)
    at = now()
    offer = Offer(
        id=uuid7(),
        listing_id=listing.id,
        buyer_id=principal.user_id,
        seller_id=listing.seller_id,
        status=OfferStatus.pending_seller,
        currency=listing.currency,
        amount=amount,
        quantity=data.quantity,
        proposed_by=OfferParty.buyer,
        expires_at=at + settings.offer_ttl,
        created_at=at,
        updated_at=at,
        rounds=[
            OfferRound(by=OfferParty.buyer, amount=amount, quantity=data.quantity, created_at=at)
        ],
    )
    await OfferRepository(session).save_unique(
        offer,
        OfferAlreadyOpen(
            "you have an open offer on this listing: answer, withdraw or check it out first"
        ),
    )
    if _below_floor(listing, amount):
        before, reached = await _step(
            session, offer, OfferAction.auto_decline, _SYSTEM, below_floor=True
        )
        event = OFFER_LIFECYCLE.event_of(before, OfferAction.auto_decline, reached)
        await _announce(session, offer, event, actor_id=None, previous=before, title=listing.title)
    else:
        await _post(session, offer, principal, Side.buyer, f"Offered {_terms(offer)}")
        await session.flush()
        await _announce(
            session,
            offer,
            OfferEventType.created,
            actor_id=principal.user_id,
            previous=None,
            title=listing.title,
        )
    return await _reloaded(session, offer, principal)


async def _reloaded(session: AsyncSession, offer: Offer, principal: Principal) -> GuardedOffer:
    fresh = await OfferRepository(session).with_rounds(offer.id)
    return Guarded(fresh, roles_of(fresh, principal))


async def accept(
    session: AsyncSession, principal: Principal, guarded: GuardedOffer, *, settings: Settings
) -> GuardedOffer:
    """The party whose turn it is accepts the proposal on the table: its stock is reserved
    for the buyer at once (409 `insufficient_stock` or `listing_unavailable` if it cannot
    be, and nothing changes), payable at the agreed price until `pay_by`. 409
    `offer_above_price` if the listing's price has come down to the proposal or below:
    the buyer should just buy it."""
    offer = guarded.subject
    actors, side, _party = _acting(guarded)
    # Whose turn it is comes first: a wrong party hears 409 `invalid_transition`.
    OFFER_LIFECYCLE.target(offer.status, OfferAction.accept, actors, OfferStep(offer))
    listing = await _listing(session, offer.listing_id)
    _require_for_sale(listing)
    if offer.amount >= listing.price_amount:
        raise OfferAbovePrice(
            f"the listing's price is now {format_money(listing.price_amount, listing.currency)},"
            f" not above the offer's {format_money(offer.amount, offer.currency)}: buy it instead"
        )
    at = now()
    pay_by = at + settings.offer_ttl
    before, reached = await _step(
        session,
        offer,
        OfferAction.accept,
        actors,
        accepted_at=at,
        pay_by=pay_by,
        expires_at=pay_by,
    )
    # The offer was refused on the buyer's own listing when made, and a listing never
    # changes shop: no own-listing check is left to make here.
    await catalog_service.reserve_for_offer(
        session, offer.listing_id, offer.quantity, buyer_shop_id=None
    )
    await _post(session, offer, principal, side, f"Accepted {_terms(offer)}")
    await _finish(session, principal, offer, OfferAction.accept, before, reached, listing)
    return await _reloaded(session, offer, principal)


async def _finish(
    session: AsyncSession,
    principal: Principal,
    offer: Offer,
    action: OfferAction,
    before: OfferStatus,
    reached: OfferStatus,
    listing: Listing,
) -> None:
    await session.flush()
    event = OFFER_LIFECYCLE.event_of(before, action, reached)
    await _announce(
        session, offer, event, actor_id=principal.user_id, previous=before, title=listing.title
    )


async def decline(
    session: AsyncSession, principal: Principal, guarded: GuardedOffer
) -> GuardedOffer:
    """The party whose turn it is declines the proposal on the table: the thread closes."""
    return await _close_thread(session, principal, guarded, OfferAction.decline, "Declined {}")


async def withdraw(
    session: AsyncSession, principal: Principal, guarded: GuardedOffer
) -> GuardedOffer:
    """The buyer takes back an offer the shop has not answered yet."""
    return await _close_thread(
        session, principal, guarded, OfferAction.withdraw, "Withdrew the offer of {}"
    )


async def _close_thread(
    session: AsyncSession,
    principal: Principal,
    guarded: GuardedOffer,
    action: OfferAction,
    message: str,
) -> GuardedOffer:
    """A party's step that closes the thread with no other change: `message` (its `{}` the
    terms on the table) goes to the conversation."""
    offer = guarded.subject
    actors, side, _party = _acting(guarded)
    listing = await _listing(session, offer.listing_id)
    before, reached = await _step(session, offer, action, actors)
    await _post(session, offer, principal, side, message.format(_terms(offer)))
    await _finish(session, principal, offer, action, before, reached, listing)
    return await _reloaded(session, offer, principal)


async def counter(
    session: AsyncSession,
    principal: Principal,
    guarded: GuardedOffer,
    data: OfferCounter,
    *,
    settings: Settings,
) -> GuardedOffer:
    """The party whose turn it is proposes another unit price (below the listing's; and
    quantity, at most the stock): the other party's turn, for another `offer_ttl`. A
    buyer's counter-offer below the listing's floor is declined at once (webhooks yes,
    notification and message no); one at or below an amount of theirs declined on the
    listing within the last `offer_ttl` is refused (422 `offer_too_low`)."""
    offer = guarded.subject
    actors, side, party = _acting(guarded)
    # Whose turn it is comes first: a wrong party hears 409, whatever the amount.
    OFFER_LIFECYCLE.target(offer.status, OfferAction.counter, actors, OfferStep(offer))
    listing = await _listing(session, offer.listing_id)
    amount = _unit_price(listing, data.amount, "amount")
    quantity = offer.quantity if data.quantity is None else data.quantity
    _require_payable(listing, amount, quantity)
    _require_stock(listing, quantity)
    if party is OfferParty.buyer:
        await _require_above_declined(session, offer.buyer_id, listing, amount, settings)
    below_floor = party is OfferParty.buyer and _below_floor(listing, amount)
    at = now()
    before, reached = await _step(
        session,
        offer,
        OfferAction.counter,
        actors,
        below_floor=below_floor,
        amount=amount,
        quantity=quantity,
        proposed_by=party,
        expires_at=at + settings.offer_ttl,
    )
    offer.rounds.append(
        OfferRound(offer_id=offer.id, by=party, amount=amount, quantity=quantity, created_at=at)
    )
    if reached is OfferStatus.declined:
        await session.flush()
        event = OFFER_LIFECYCLE.event_of(before, OfferAction.counter, reached)
        await _announce(session, offer, event, actor_id=None, previous=before, title=listing.title)
    else:
        await _post(session, offer, principal, side, f"Countered with {_terms(offer)}")
        await _finish(session, principal, offer, OfferAction.counter, before, reached, listing)
    return await _reloaded(session, offer, principal)


async def check_out(
    session: AsyncSession,
    principal: Principal,
    guarded: GuardedOffer,
    data: OfferCheckout,
    *,
    settings: Settings,
) -> checkout_service.CheckoutView:
    """The buyer checks out an accepted offer before `pay_by`: a checkout of that one
    listing at the agreed price from the stock the offer holds, payable until `pay_by` at
    the latest. From then on the stock is the order's: it returns if the checkout expires
    unpaid or the order is cancelled, not through the offer. 409 `listing_unavailable` once
    the listing is no longer for sale (removed, archived, its shop suspended or closed): the
    offer then stays accepted until `pay_by`, when the worker returns its stock."""
    offer = guarded.subject
    actors, _side, _party = _acting(guarded)
    OFFER_LIFECYCLE.target(offer.status, OfferAction.checkout, actors, OfferStep(offer))
    assert offer.pay_by is not None  # every accepted offer has one
    # Locked (as the checkout then locks it again), so no takedown slips in between.
    (locked,) = await catalog_service.lock_reserved(session, [offer.listing_id])
    _require_for_sale(locked)
    created = await checkout_service.create_checkout(
        session,
        principal,
        CheckoutCreate(shipping_address=data.shipping_address),
        settings=settings,
        agreed=checkout_service.AgreedPrice(
            listing_id=offer.listing_id,
            quantity=offer.quantity,
            unit_price=offer.amount,
            pay_by=offer.pay_by,
        ),
    )
    listing = await _listing(session, offer.listing_id)
    before, reached = await _step(
        session, offer, OfferAction.checkout, actors, checkout_id=created.checkout.id
    )
    await _finish(session, principal, offer, OfferAction.checkout, before, reached, listing)
    return created


async def expire(session: AsyncSession, offer: Offer) -> None:
    """Worker: an offer (locked by its claim) past its deadline expires; an accepted one
    gives the stock it held back to the listing."""
    await _close(session, offer, OfferAction.expire)


async def close_for_deleted_account(
    session: AsyncSession, *, user_id: uuid.UUID, shop_id: uuid.UUID | None
) -> None:
    """Privacy: every open offer the person made, or their shop (if any) received, expires
    at once (each row-locked in id order); an accepted one gives its stock back. The other
    party is told (`offer.expired`)."""
    offers = await OfferRepository(session).lock_open_of_parties(
        buyer_id=user_id, seller_id=shop_id
    )
    for offer in offers:
        await _close(session, offer, OfferAction.close)


async def _close(session: AsyncSession, offer: Offer, action: OfferAction) -> None:
    before, reached = await _step(session, offer, action, _SYSTEM)
    if before is OfferStatus.accepted:
        await catalog_service.release_stock(session, offer.listing_id, offer.quantity)
    listing = await _listing(session, offer.listing_id)
    event = OFFER_LIFECYCLE.event_of(before, action, reached)
    await _announce(session, offer, event, actor_id=None, previous=before, title=listing.title)
