"""Cart, checkout and orders: each handler gets the caller (and, for one order or checkout,
its guard), makes one service call and returns one presenter's output."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AppSettings, CurrentPrincipal, VerifiedPrincipal
from app.auth.exceptions import EmailNotVerified, InvalidToken
from app.catalog.dependencies import Storage
from app.catalog.exceptions import (
    CannotBuyOwnListing,
    InsufficientStock,
    ListingNotFound,
    ListingUnavailable,
)
from app.core.db import DbSession
from app.core.errors import InvalidTransition, NotFound, error_responses
from app.core.idempotency import (
    IDEMPOTENCY_KEY_REQUIRED,
    IdempotencyDep,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, Rfc3339, page_of
from app.orders import checkout as checkout_service
from app.orders import service, views
from app.orders.dependencies import CheckoutGuard, OrderGuard
from app.orders.exceptions import (
    CartEmpty,
    CheckoutExpired,
    CheckoutNotFound,
    OrderNotFound,
    OrderTooLarge,
)
from app.orders.models import OrderStatus
from app.orders.schemas import (
    MAX_COUPON_CODES,
    CancelRequest,
    CartQuantity,
    CartRead,
    CheckoutCreate,
    CheckoutRead,
    OrderCounts,
    OrderEventRead,
    OrderRead,
    PayRequest,
)
from app.payments.dependencies import Provider
from app.payments.exceptions import (
    InsufficientFunds,
    InvalidPaymentToken,
    PaymentDeclined,
    PaymentProviderError,
)
from app.promotions.exceptions import CouponExhausted, CouponInvalid, CouponNotApplicable
from app.promotions.schemas import CouponCode
from app.shipping.exceptions import DestinationNotServed
from app.shipping.schemas import CountryCode

COUPON_ERRORS = (CouponInvalid, CouponNotApplicable, CouponExhausted)

cart_router = APIRouter(
    prefix=f"{API_PREFIX}/cart", tags=["cart"], responses=error_responses(InvalidToken)
)
checkout_router = APIRouter(
    prefix=API_PREFIX, tags=["checkout"], responses=error_responses(InvalidToken)
)
orders_router = APIRouter(
    prefix=f"{API_PREFIX}/orders", tags=["orders"], responses=error_responses(InvalidToken)
)


@cart_router.get("", response_model=CartRead, responses=error_responses(*COUPON_ERRORS))
async def get_cart(
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    country: Annotated[
        CountryCode | None,
        Query(
            description="ISO 3166-1 alpha-2 country to reckon shipping to (the shipping "
            "address's); left out: each shop's own country",
        ),
    ] = None,
    coupon: Annotated[
        list[CouponCode],
        Query(
            max_length=MAX_COUPON_CODES,
            description="Coupon codes to try, as checkout would apply them (repeat for more)",
        ),
    ] = [],  # noqa: B006 - FastAPI copies the default
) -> CartRead:
    """Your cart grouped by shop, each group with its items, shipping and subtotal. Shipping
    is what checkout charges to `country` (each group says which country it assumed in
    `shipping_country`): lines on the same shipping profile ship together, the first unit
    paying the profile's first-item fee and each further one its additional-item fee, free
    over the profile's threshold, and `shipping_breakdown` shows the reckoning; lines without
    a profile pay their flat fee. Lines that can no longer be bought, or that their profile
    does not ship to the country, are kept and marked `available: false` with the reason,
    rather than vanishing, and count in no total. Each group shows the discounts checkout
    would apply (automatic promotions, and any `coupon` given: a code that is not valid is
    refused as checkout refuses it) and the buyer protection fee."""
    shown = await checkout_service.cart(
        session, principal, settings=settings, country=country, coupon_codes=coupon
    )
    return views.cart_to_read(shown, settings.currency, storage)


@cart_router.put(
    "/items/{listing_id}",
    response_model=CartRead,
    responses=error_responses(
        ListingNotFound, ListingUnavailable, InsufficientStock, CannotBuyOwnListing, OrderTooLarge
    ),
)
async def set_cart_item(
    listing_id: uuid.UUID,
    body: CartQuantity,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> CartRead:
    """Put a listing in your cart with this quantity (checked against the stock)."""
    shown = await checkout_service.set_cart_quantity(
        session, principal, listing_id, body.quantity, settings=settings
    )
    return views.cart_to_read(shown, settings.currency, storage)


@cart_router.delete(
    "/items/{listing_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound),
)
async def remove_cart_item(
    listing_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Take a listing out of your cart."""
    await checkout_service.remove_from_cart(session, principal, listing_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@checkout_router.post(
    "/checkout",
    openapi_extra=IDEMPOTENCY_KEY_REQUIRED,
    status_code=status.HTTP_201_CREATED,
    response_model=CheckoutRead,
    responses=error_responses(
        IdempotencyKeyRequired,
        IdempotencyKeyReused,
        CartEmpty,
        ListingNotFound,
        ListingUnavailable,
        InsufficientStock,
        CannotBuyOwnListing,
        DestinationNotServed,
        OrderTooLarge,
        *COUPON_ERRORS,
    ),
)
async def create_checkout(
    body: CheckoutCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    idempotency: IdempotencyDep,
) -> CheckoutRead | JSONResponse:
    """Check out the cart (or `items`): one order per seller, stock reserved until the
    payment expiry. Each order's shipping is reckoned for the shipping address's country as
    the cart shows it (`shipping_breakdown`); a line whose shipping profile does not serve
    that country refuses the whole checkout (422 `destination_not_served`, naming the
    listings), and nothing is reserved.

    Automatic promotions apply by themselves (each shop's best and the platform's best);
    `coupon_codes` adds coupons. Each order shows its `discounts`, who funds each (the
    platform pays its own to the shop; a shop's comes off its proceeds) and the buyer
    protection fee, if the platform charges one. A coupon used up meanwhile is 409
    `coupon_exhausted` and nothing is bought. A coupon counts as unused again once every
    order of the checkout that carries it is cancelled before shipping. Requires an
    `Idempotency-Key`."""

    async def produce() -> CheckoutRead:
        checkout = await checkout_service.create_checkout(
            session, principal, body, settings=settings
        )
        return views.checkout_to_read(checkout, storage)

    return await idempotency.run(
        scope=str(principal.id),
        status_code=201,
        response_model=CheckoutRead,
        produce=produce,
    )


@checkout_router.get(
    "/checkouts/{checkout_id}",
    response_model=CheckoutRead,
    responses=error_responses(CheckoutNotFound),
)
async def get_checkout(
    checkout: CheckoutGuard,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> CheckoutRead:
    """One of your checkouts with its orders. Unpaid past `expires_at` it is `expired`."""
    shown = await checkout_service.view(session, principal, checkout, settings=settings)
    return views.checkout_to_read(shown, storage)


@checkout_router.post(
    "/checkouts/{checkout_id}/pay",
    openapi_extra=IDEMPOTENCY_KEY_REQUIRED,
    response_model=CheckoutRead,
    responses=error_responses(
        IdempotencyKeyRequired,
        IdempotencyKeyReused,
        CheckoutNotFound,
        CheckoutExpired,
        InvalidTransition,
        PaymentDeclined,
        InsufficientFunds,
        PaymentProviderError,
        InvalidPaymentToken,
        EmailNotVerified,
    ),
)
async def pay_checkout(
    checkout: CheckoutGuard,
    body: PayRequest,
    principal: VerifiedPrincipal,
    session: DbSession,
    settings: AppSettings,
    provider: Provider,
    storage: Storage,
    idempotency: IdempotencyDep,
) -> CheckoutRead | JSONResponse:
    """Pay for every order of the checkout at once; the money is held in escrow until each
    order completes. Requires an `Idempotency-Key`; a failed attempt changes nothing. Where
    verification is required, an unverified email answers 403 `email_not_verified`."""

    async def produce() -> CheckoutRead:
        paid = await checkout_service.pay(
            session,
            principal,
            checkout,
            provider=provider,
            settings=settings,
            token=body.payment_token,
        )
        return views.checkout_to_read(paid, storage)

    return await idempotency.run(
        scope=str(principal.id),
        status_code=200,
        response_model=CheckoutRead,
        produce=produce,
    )


OrderRole = Annotated[
    str | None,
    Query(pattern="^(buyer|seller)$", description="Only your purchases, or only your sales"),
]


@orders_router.get("", response_model=Page[OrderRead], responses=error_responses(InvalidCursor))
async def list_orders(
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    page: PageQuery,
    role: OrderRole = None,
    status: Annotated[
        list[OrderStatus] | None,
        Query(max_length=len(OrderStatus), description="Any of these states (repeat it)"),
    ] = None,
    created_after: Annotated[
        Rfc3339 | None, Query(description="Created at or after this moment (RFC 3339)")
    ] = None,
    created_before: Annotated[
        Rfc3339 | None, Query(description="Created before this moment (RFC 3339)")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\x00]*$",
            description=(
                "Search: the start of the order's id (4+ hex digits), or text contained in a "
                "line's title or in the other party's name (the shop's name for your "
                "purchases, the buyer's display name for your sales), any case"
            ),
        ),
    ] = None,
) -> Page[OrderRead]:
    """Your orders, newest first: as buyer, as seller, or both. Filters combine."""
    orders, next_cursor = await service.list_for(
        session,
        principal,
        settings=settings,
        role=role,
        statuses=tuple(status or ()),
        created_after=created_after,
        created_before=created_before,
        q=q,
        page=page,
    )
    return page_of(orders, next_cursor, lambda o: views.to_read(o, storage))


@orders_router.get("/counts", response_model=OrderCounts)
async def count_orders(
    principal: CurrentPrincipal, session: DbSession, role: OrderRole = None
) -> OrderCounts:
    """How many of your orders are in each state (every state, zeros included): the tabs
    of an orders screen."""
    return views.counts_to_read(await service.counts(session, principal, role=role))


@orders_router.get(
    "/{order_id}", response_model=OrderRead, responses=error_responses(OrderNotFound)
)
async def get_order(
    order: OrderGuard,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> OrderRead:
    """An order you bought or sold, as its screen shows it: `allowed_actions` for you (and
    `actions`, each with its deadline), the ids of its return, dispute and your conversation
    about it, and for the seller the commission and net amount."""
    return views.to_read(await service.view(session, principal, order, settings=settings), storage)


@orders_router.get(
    "/{order_id}/events",
    response_model=list[OrderEventRead],
    responses=error_responses(OrderNotFound),
)
async def list_order_events(order: OrderGuard, session: DbSession) -> list[OrderEventRead]:
    """The order's timeline: every state change, who made it and when."""
    return views.events_to_read(await service.events(session, order))


_ACTION_ERRORS = error_responses(OrderNotFound, InvalidTransition)


@orders_router.post(
    "/{order_id}/confirm-receipt", response_model=OrderRead, responses=_ACTION_ERRORS
)
async def confirm_receipt(
    order: OrderGuard,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> OrderRead:
    """Buyer: the goods arrived. The order completes and the escrow is released to the
    seller, minus the platform's commission."""
    completed = await service.confirm_receipt(session, principal, order, settings=settings)
    return views.to_read(completed, storage)


@orders_router.post("/{order_id}/cancel", response_model=OrderRead, responses=_ACTION_ERRORS)
async def cancel_order(
    order: OrderGuard,
    body: CancelRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    provider: Provider,
    storage: Storage,
) -> OrderRead:
    """Cancel before shipping, with a reason: the stock returns and a paid order is refunded
    in full. The buyer may cancel a paid order only once the seller missed the ship-by date."""
    cancelled = await service.cancel(
        session, principal, order, settings=settings, provider=provider, reason=body.reason
    )
    return views.to_read(cancelled, storage)
