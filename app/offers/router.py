"""The offers routes: making an offer on a listing, the parties' answers, and checking out
an accepted one. Each handler makes one service call and returns one presenter's output."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InsufficientScope, InvalidToken
from app.catalog.dependencies import Storage
from app.catalog.exceptions import (
    CannotBuyOwnListing,
    InsufficientStock,
    ListingNotFound,
    ListingUnavailable,
)
from app.core.db import DbSession
from app.core.errors import InvalidTransition, error_responses
from app.core.idempotency import (
    IDEMPOTENCY_KEY_REQUIRED,
    IdempotencyDep,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from app.core.money import CurrencyNotSupported
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of
from app.offers import service, views
from app.offers.dependencies import OfferGuard
from app.offers.exceptions import (
    OfferAbovePrice,
    OfferAlreadyOpen,
    OfferNotBelowPrice,
    OfferNotFound,
    OffersNotAccepted,
    OfferTooLow,
    TooManyOffers,
)
from app.offers.models import OfferStatus
from app.offers.schemas import OfferCheckout, OfferCounter, OfferCreate, OfferRead
from app.orders import views as order_views
from app.orders.exceptions import OrderTooLarge
from app.orders.schemas import CheckoutRead
from app.shipping.exceptions import DestinationNotServed

offers_router = APIRouter(
    prefix=API_PREFIX, tags=["offers"], responses=error_responses(InvalidToken)
)

_ACTION_ERRORS = (OfferNotFound, InvalidTransition)


@offers_router.post(
    "/listings/{listing_id}/offers",
    status_code=status.HTTP_201_CREATED,
    response_model=OfferRead,
    summary="Make an offer",
    responses=error_responses(
        ListingNotFound,
        ListingUnavailable,
        CannotBuyOwnListing,
        OffersNotAccepted,
        OfferNotBelowPrice,
        OfferTooLow,
        TooManyOffers,
        OrderTooLarge,
        OfferAlreadyOpen,
        InsufficientStock,
        InsufficientScope,
        CurrencyNotSupported,
    ),
)
async def make_offer(
    listing_id: uuid.UUID,
    body: OfferCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> OfferRead:
    """Offer a unit price below the listing's (422 `offer_not_below_price` otherwise) for
    `quantity` units of a live listing that takes offers (`accepts_offers`; 409
    `offers_not_accepted` otherwise), not your own (409 `cannot_buy_own_listing`). The shop
    has `MARKETPLACE_OFFER_TTL` (48 h by default) to accept, decline or counter, or the offer
    expires. You may have one open offer per listing (409 `offer_already_open`). An offer
    below the shop's floor is answered at once: `declined` (the shop gets no notification
    or message, only an `offer.auto_declined` webhook event). An offer at or below one of
    yours declined on this listing within `MARKETPLACE_OFFER_TTL` is refused (422
    `offer_too_low`), and so is any past `MARKETPLACE_OFFERS_PER_LISTING` (5) offers and
    counters of yours on one listing within that time (409 `too_many_offers`); a total
    (`amount` times `quantity`) above what one payment may be is 422 `order_too_large`. Each
    step shows in your conversation with the shop about the listing. Rate-limited."""
    offer = await service.make(session, principal, listing_id, body, settings=settings)
    return views.offer_read(offer)


@offers_router.get(
    "/offers",
    response_model=Page[OfferRead],
    summary="List your offers",
    responses=error_responses(InvalidCursor),
)
async def list_offers(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    role: Annotated[
        str | None,
        Query(pattern="^(buyer|seller)$", description="Only offers you made, or only received"),
    ] = None,
    status: Annotated[
        list[OfferStatus] | None,
        Query(max_length=len(OfferStatus), description="Any of these states (repeat it)"),
    ] = None,
) -> Page[OfferRead]:
    """Offers you made as a buyer and offers your shop received, newest first."""
    offers, cursor = await service.list_for(
        session, principal, role=role, statuses=tuple(status or ()), page=page
    )
    return page_of(offers, cursor, views.offer_read)


@offers_router.get(
    "/offers/{offer_id}",
    response_model=OfferRead,
    summary="Get an offer",
    responses=error_responses(OfferNotFound),
)
async def get_offer(offer: OfferGuard) -> OfferRead:
    """An offer you made or received, with every round and `allowed_actions` for you."""
    return views.offer_read(offer)


@offers_router.post(
    "/offers/{offer_id}/accept",
    response_model=OfferRead,
    summary="Accept an offer",
    responses=error_responses(
        *_ACTION_ERRORS, InsufficientStock, ListingUnavailable, ListingNotFound, OfferAbovePrice
    ),
)
async def accept_offer(
    offer: OfferGuard, principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> OfferRead:
    """Accept the price on the table when it is your turn (the shop a buyer's offer, the
    buyer a shop's counter-offer; 409 `invalid_transition` otherwise). The stock is reserved
    for the buyer at once (409 `insufficient_stock` if it is gone, `listing_unavailable` if
    the listing is no longer for sale), who may check out at the agreed price until `pay_by`
    (`MARKETPLACE_OFFER_TTL` later); after that the stock returns to the listing. 409
    `offer_above_price` if the listing's price has since come down to the proposal or
    below: just buy it."""
    return views.offer_read(await service.accept(session, principal, offer, settings=settings))


@offers_router.post(
    "/offers/{offer_id}/decline",
    response_model=OfferRead,
    summary="Decline an offer",
    responses=error_responses(*_ACTION_ERRORS),
)
async def decline_offer(
    offer: OfferGuard, principal: CurrentPrincipal, session: DbSession
) -> OfferRead:
    """Decline the price on the table when it is your turn: the offer is over."""
    return views.offer_read(await service.decline(session, principal, offer))


@offers_router.post(
    "/offers/{offer_id}/counter",
    response_model=OfferRead,
    summary="Counter an offer",
    responses=error_responses(
        *_ACTION_ERRORS,
        OfferNotBelowPrice,
        OfferTooLow,
        TooManyOffers,
        OrderTooLarge,
        InsufficientStock,
        CurrencyNotSupported,
    ),
)
async def counter_offer(
    offer: OfferGuard,
    body: OfferCounter,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> OfferRead:
    """Answer the price on the table with another (below the listing's price) when it is
    your turn; the other party then has `MARKETPLACE_OFFER_TTL` to answer. A buyer's
    counter-offer below the shop's floor is declined at once; one at or below an amount of
    theirs declined on this listing within `MARKETPLACE_OFFER_TTL` is refused (422
    `offer_too_low`); 409 `too_many_offers` and 422 `order_too_large` as for an offer.
    Rate-limited with offers."""
    countered = await service.counter(session, principal, offer, body, settings=settings)
    return views.offer_read(countered)


@offers_router.post(
    "/offers/{offer_id}/withdraw",
    response_model=OfferRead,
    summary="Withdraw an offer",
    responses=error_responses(*_ACTION_ERRORS),
)
async def withdraw_offer(
    offer: OfferGuard, principal: CurrentPrincipal, session: DbSession
) -> OfferRead:
    """Buyer: take back your offer while the shop has not answered it."""
    return views.offer_read(await service.withdraw(session, principal, offer))


@offers_router.post(
    "/offers/{offer_id}/checkout",
    openapi_extra=IDEMPOTENCY_KEY_REQUIRED,
    status_code=status.HTTP_201_CREATED,
    response_model=CheckoutRead,
    summary="Check out an accepted offer",
    responses=error_responses(
        *_ACTION_ERRORS,
        IdempotencyKeyRequired,
        IdempotencyKeyReused,
        DestinationNotServed,
        OrderTooLarge,
        ListingUnavailable,
    ),
)
async def check_out_offer(
    offer: OfferGuard,
    body: OfferCheckout,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    idempotency: IdempotencyDep,
) -> CheckoutRead | JSONResponse:
    """Buyer: buy an accepted offer at the agreed price, from the stock it holds — a
    checkout like `POST /v1/checkout` makes (your cart is left alone), payable with
    `POST /v1/checkouts/{id}/pay` until `pay_by` at the latest. If that checkout expires
    unpaid or its order is cancelled, the stock returns to the listing. 409
    `listing_unavailable` once the listing is no longer for sale (taken down, its shop
    suspended or closed): the offer then stays accepted until `pay_by`, when its stock
    returns. Requires an `Idempotency-Key`."""

    async def produce() -> CheckoutRead:
        created = await service.check_out(session, principal, offer, body, settings=settings)
        return order_views.checkout_to_read(created, storage)

    return await idempotency.run(
        scope=str(principal.id), status_code=201, response_model=CheckoutRead, produce=produce
    )


ROUTERS: tuple[APIRouter, ...] = (offers_router,)
"""Every router of the package, in the order `app.api` includes them."""
