import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AppSettings, CurrentPrincipal, CurrentUser
from app.auth.exceptions import InvalidToken
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
from app.core.schemas import Page
from app.orders import checkout as checkout_service
from app.orders import service
from app.orders.exceptions import CartEmpty, CheckoutExpired, CheckoutNotFound, OrderNotFound
from app.orders.models import OrderStatus
from app.orders.schemas import (
    CancelRequest,
    CartQuantity,
    CartRead,
    CheckoutCreate,
    CheckoutRead,
    OrderEventRead,
    OrderRead,
    PayRequest,
    ShipRequest,
)
from app.orders.state import OrderAction, OrderActor
from app.payments.dependencies import Provider
from app.payments.provider import (
    InsufficientFunds,
    InvalidPaymentToken,
    PaymentDeclined,
    PaymentProviderError,
)
from app.sellers.dependencies import MaybeSeller

cart_router = APIRouter(
    prefix=f"{API_PREFIX}/cart", tags=["cart"], responses=error_responses(InvalidToken)
)
checkout_router = APIRouter(
    prefix=API_PREFIX, tags=["checkout"], responses=error_responses(InvalidToken)
)
orders_router = APIRouter(
    prefix=f"{API_PREFIX}/orders", tags=["orders"], responses=error_responses(InvalidToken)
)

_BUYER = {OrderActor.buyer}


@cart_router.get("", response_model=CartRead)
async def get_cart(user: CurrentUser, session: DbSession, settings: AppSettings) -> CartRead:
    """Your cart grouped by seller. Lines that can no longer be bought are kept and marked
    `available: false` with the reason, rather than vanishing."""
    return await checkout_service.view_cart(session, settings, user)


@cart_router.put(
    "/items/{listing_id}",
    response_model=CartRead,
    responses=error_responses(
        ListingNotFound, ListingUnavailable, InsufficientStock, CannotBuyOwnListing
    ),
)
async def set_cart_item(
    listing_id: uuid.UUID,
    body: CartQuantity,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
) -> CartRead:
    """Put a listing in your cart with this quantity (checked against the stock)."""
    await checkout_service.set_cart_quantity(session, user, listing_id, body.quantity)
    return await checkout_service.view_cart(session, settings, user)


@cart_router.delete(
    "/items/{listing_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound),
)
async def remove_cart_item(
    listing_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> Response:
    """Take a listing out of your cart."""
    await checkout_service.remove_from_cart(session, user, listing_id)
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
    ),
)
async def create_checkout(
    body: CheckoutCreate,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    idempotency: IdempotencyDep,
) -> CheckoutRead | JSONResponse:
    """Check out the cart (or `items`): one order per seller, stock reserved until the
    payment expiry. Requires an `Idempotency-Key`."""

    async def produce() -> CheckoutRead:
        checkout = await checkout_service.create_checkout(session, settings, user, body)
        return service.checkout_to_read(checkout, _BUYER)

    return await idempotency.run(
        scope=str(user.id),
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
    checkout_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> CheckoutRead:
    """One of your checkouts with its orders."""
    checkout = await checkout_service.get_checkout(session, user, checkout_id)
    return service.checkout_to_read(checkout, _BUYER)


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
    ),
)
async def pay_checkout(
    checkout_id: uuid.UUID,
    body: PayRequest,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    provider: Provider,
    idempotency: IdempotencyDep,
) -> CheckoutRead | JSONResponse:
    """Pay for every order of the checkout at once; the money is held in escrow until each
    order completes. Requires an `Idempotency-Key`; a failed attempt changes nothing."""

    async def produce() -> CheckoutRead:
        checkout = await checkout_service.pay(
            session, provider, settings, user, checkout_id, body.payment_token
        )
        return service.checkout_to_read(checkout, _BUYER)

    return await idempotency.run(
        scope=str(user.id),
        status_code=200,
        response_model=CheckoutRead,
        produce=produce,
    )


@orders_router.get("", response_model=Page[OrderRead], responses=error_responses(InvalidCursor))
async def list_orders(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    role: Annotated[str | None, Query(pattern="^(buyer|seller)$")] = None,
    status: Annotated[OrderStatus | None, Query()] = None,
) -> Page[OrderRead]:
    """Your orders, newest first: as buyer, as seller, or both."""
    rows, next_cursor = await service.list_for(
        session, principal, role=role, status=status, page=page
    )
    return Page(
        items=[service.to_read(o, service.roles_of(o, principal)) for o in rows],
        next_cursor=next_cursor,
    )


@orders_router.get(
    "/{order_id}", response_model=OrderRead, responses=error_responses(OrderNotFound)
)
async def get_order(
    order_id: uuid.UUID, user: CurrentUser, seller: MaybeSeller, session: DbSession
) -> OrderRead:
    """An order you bought or sold, with `allowed_actions` for you."""
    order, actors = await service.get_for(session, order_id, user, seller)
    return service.to_read(order, actors)


@orders_router.get(
    "/{order_id}/events",
    response_model=list[OrderEventRead],
    responses=error_responses(OrderNotFound),
)
async def list_order_events(
    order_id: uuid.UUID, user: CurrentUser, seller: MaybeSeller, session: DbSession
) -> list[OrderEventRead]:
    """The order's timeline: every state change, who made it and when."""
    order, _ = await service.get_for(session, order_id, user, seller)
    return [OrderEventRead.model_validate(e) for e in await service.events(session, order)]


_ACTION_ERRORS = error_responses(OrderNotFound, InvalidTransition)


@orders_router.post("/{order_id}/ship", response_model=OrderRead, responses=_ACTION_ERRORS)
async def ship_order(
    order_id: uuid.UUID,
    body: ShipRequest,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    settings: AppSettings,
) -> OrderRead:
    """Seller: mark a paid order shipped, with carrier and tracking number. It completes by
    itself after the auto-complete delay unless the buyer confirms first."""
    order, actors = await service.get_for(session, order_id, user, seller, lock=True)
    await service.ship(
        session,
        settings,
        order,
        actors,
        user,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    return service.to_read(order, actors)


@orders_router.post(
    "/{order_id}/confirm-receipt", response_model=OrderRead, responses=_ACTION_ERRORS
)
async def confirm_receipt(
    order_id: uuid.UUID,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    settings: AppSettings,
) -> OrderRead:
    """Buyer: the goods arrived. The order completes and the escrow is released to the
    seller, minus the platform's commission."""
    order, actors = await service.get_for(session, order_id, user, seller, lock=True)
    await service.complete(session, settings, order, OrderAction.confirm_receipt, actors, user.id)
    return service.to_read(order, actors)


@orders_router.post("/{order_id}/cancel", response_model=OrderRead, responses=_ACTION_ERRORS)
async def cancel_order(
    order_id: uuid.UUID,
    body: CancelRequest,
    user: CurrentUser,
    seller: MaybeSeller,
    session: DbSession,
    provider: Provider,
) -> OrderRead:
    """Cancel before shipping, with a reason: the stock returns and a paid order is refunded
    in full. The buyer may cancel a paid order only once the seller missed the ship-by date."""
    order, actors = await service.get_for(session, order_id, user, seller, lock=True)
    await service.cancel(
        session, provider, order, OrderAction.cancel, actors, actor_id=user.id, reason=body.reason
    )
    return service.to_read(order, actors)
