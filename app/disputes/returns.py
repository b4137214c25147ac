"""Returns: the buyer sends goods back after completion and gets the items' price back
(plus their shipping when the seller is at fault) once the seller receives them."""

import uuid
from collections.abc import Set as AbstractSet
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import PartySide, Principal
from app.config import Settings
from app.core.clock import now
from app.core.errors import AppError, Forbidden
from app.core.guards import Guarded
from app.core.money import Money
from app.core.pagination import PageParams
from app.disputes.events import ReturnEventType
from app.disputes.exceptions import (
    InvalidReturnItems,
    OrderNotCompleted,
    ReturnExists,
    ReturnNotFound,
    ReturnWindowClosed,
)
from app.disputes.listing import listed
from app.disputes.models import ReturnItem, ReturnRequest, ReturnStatus
from app.disputes.repository import OrderContext, ReturnRepository
from app.disputes.schemas import ReturnCreate
from app.disputes.state import RETURN_LIFECYCLE, ReturnAction, deadline_of
from app.logistics import service as logistics
from app.orders import service as order_service
from app.orders.models import EventSubject, Order, OrderLine, OrderStatus
from app.orders.state import OrderActor
from app.payments.provider import PaymentProvider

# The seller's decision is due by the return's `respond_by` (silence approves).
_DUE_BY_RESPOND_BY = (ReturnAction.approve, ReturnAction.reject)


def actions(
    request: ReturnRequest, actors: AbstractSet[OrderActor]
) -> list[tuple[str, datetime | None]]:
    """What the caller may do now, each with the moment the chance ends (None: no
    deadline)."""
    return [
        (a.value, request.respond_by if a in _DUE_BY_RESPOND_BY else None)
        for a in RETURN_LIFECYCLE.allowed_actions(request.status, actors, request)
    ]


def allowed_actions(request: ReturnRequest, actors: AbstractSet[OrderActor]) -> list[str]:
    return [name for name, _deadline in actions(request, actors)]


def refund_money(request: ReturnRequest) -> dict[str, object]:
    """The return's refund as timeline details carry every amount: Money."""
    return Money(amount=request.refund_amount, currency=request.currency).model_dump()


def refund_for(order: Order, data: ReturnCreate) -> int:
    """The items' price less their share of the line's discounts (rounded down: the odd
    cent is the buyer's), plus the shipping of their lines when the seller is at fault;
    everything the buyer paid, the protection fee included, when that comes to all that is
    left of the goods. 422 for lines not in the order or quantities above what was
    bought."""
    lines = {line.id: line for line in order.lines}
    seen: set[uuid.UUID] = set()
    amount = 0
    for item in data.items:
        line = lines.get(item.line_id)
        if line is None or item.line_id in seen:
            raise InvalidReturnItems(f"line {item.line_id} is not in this order (or repeated)")
        if item.quantity > line.quantity:
            raise InvalidReturnItems(f"line {line.id} has {line.quantity} unit(s)")
        seen.add(line.id)
        amount += line.unit_price * item.quantity
        amount -= line.discount_amount * item.quantity // line.quantity
        if data.reason.seller_at_fault:
            # The shipping of the units sent back (a line's fee is its units' share of the
            # shop's combined shipping): all of it when the whole line comes back.
            amount += line.shipping_fee * item.quantity // line.quantity
    if amount >= order_service.money_of(order).goods_left:
        amount = order_service.refundable(order)
    if amount <= 0:
        raise InvalidReturnItems("nothing to refund: the buyer paid nothing for these items")
    return amount


def return_refusal(order: Order, roles: AbstractSet[OrderActor]) -> AppError | None:
    """Why the caller may not ask to return the order now, its return aside (None: they
    may): the rule `request_return` enforces and the order's screen offers the action by."""
    if OrderActor.buyer not in roles:
        return Forbidden("only the buyer may return an order")
    if order.status is not OrderStatus.completed:
        return OrderNotCompleted(f"the order is {order.status.value}")
    if order.return_deadline is not None and order.return_deadline <= now():
        return ReturnWindowClosed(f"returns closed at {order.return_deadline.isoformat()}")
    return None


async def request_return(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[Order, OrderActor],
    *,
    settings: Settings,
    data: ReturnCreate,
) -> Guarded[ReturnRequest, OrderActor]:
    order = guarded.subject
    refusal = return_refusal(order, guarded.roles)
    if refusal is not None:
        raise refusal
    if await ReturnRepository(session).of_order(order.id) is not None:
        raise ReturnExists()
    request = ReturnRequest(
        order_id=order.id,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        status=ReturnStatus.requested,
        reason=data.reason,
        details=data.details,
        currency=order.currency,
        refund_amount=refund_for(order, data),
        respond_by=now() + settings.dispute_response_time,
        items=[ReturnItem(order_line_id=i.line_id, quantity=i.quantity) for i in data.items],
    )
    # The order's row lock (its guard's) serialises requests; the unique order_id is the last
    # word.
    await ReturnRepository(session).save_unique(request, ReturnExists())
    await order_service.record_event(
        session,
        order.id,
        EventSubject.return_request,
        request.id,
        ReturnEventType.requested,
        action="request",
        actor_role=OrderActor.buyer.value,
        actor_id=principal.user_id,
        change=(None, request.status.value),
        details={
            "reason": data.reason.value,
            "refund": refund_money(request),
            **deadline_of(request),
        },
    )
    return Guarded(request, order_service.roles_of(request, principal))


async def get_visible(
    session: AsyncSession, principal: Principal, return_id: uuid.UUID, *, lock: bool
) -> Guarded[ReturnRequest, OrderActor]:
    """A return the caller may see (a party, or an admin), with their roles on it; 404
    otherwise, decided by the query. `lock` holds its row for the rest of the transaction
    (a step then locks its order: always return, then order)."""
    request = await ReturnRepository(session).get_visible(principal, return_id, lock=lock)
    if request is None:
        raise ReturnNotFound()
    return Guarded(request, order_service.roles_of(request, principal))


async def list_for(
    session: AsyncSession,
    principal: Principal,
    *,
    role: PartySide | None,
    statuses: list[ReturnStatus],
    order_id: uuid.UUID | None,
    page: PageParams,
) -> tuple[list[tuple[Guarded[ReturnRequest, OrderActor], OrderContext]], str | None]:
    """The caller's returns, newest first, each with their roles on it and its order's
    context."""
    rows, next_cursor = await ReturnRepository(session).page_of_party(
        principal, role=role, statuses=statuses, order_id=order_id, page=page
    )
    return listed(rows, principal), next_cursor


async def context(session: AsyncSession, request: ReturnRequest) -> OrderContext:
    return await ReturnRepository(session).context(request)


async def lines_of(session: AsyncSession, request: ReturnRequest) -> dict[uuid.UUID, OrderLine]:
    """The order lines the return sends back, by id."""
    return await ReturnRepository(session).lines([i.order_line_id for i in request.items])


async def step(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[ReturnRequest, OrderActor],
    *,
    provider: PaymentProvider,
    action: ReturnAction,
    details: dict[str, str],
) -> None:
    """approve, reject (details: reason), ship_back (details: carrier, tracking_number) or
    receive (which refunds), on a return its guard locked."""
    await _apply(
        session, provider, guarded.subject, action, guarded.roles, principal.user_id, details
    )


async def _apply(
    session: AsyncSession,
    provider: PaymentProvider,
    request: ReturnRequest,
    action: ReturnAction,
    actors: AbstractSet[OrderActor],
    actor_id: uuid.UUID | None,
    details: dict[str, str],
) -> None:
    before = request.status
    request.status = RETURN_LIFECYCLE.target(before, action, actors, request)
    permitted = actors & RETURN_LIFECYCLE.table[(before, action)].actors
    order = await order_service.lock(session, request.order_id)
    if action is ReturnAction.reject:
        request.rejection_reason = details["reason"]
    if action in (ReturnAction.approve, ReturnAction.reject):
        request.respond_by = None
    if action is ReturnAction.ship_back:
        request.carrier, request.tracking_number = details["carrier"], details["tracking_number"]
    recorded: dict[str, object] = dict(details)
    if action is ReturnAction.receive:
        recorded["refund"] = refund_money(request)
        request.received_at = now()
        lines = {line.id: line for line in order.lines}
        await order_service.refund_return(
            session,
            provider,
            order,
            {OrderActor.system},
            amount=request.refund_amount,
            returned=[(lines[item.order_line_id], item.quantity) for item in request.items],
            with_shipping=request.reason.seller_at_fault,
            actor_id=actor_id,
            return_id=request.id,
        )
    await session.flush()
    await order_service.record_event(
        session,
        order.id,
        EventSubject.return_request,
        request.id,
        RETURN_LIFECYCLE.event_of(before, action, request.status),
        action=action.value,
        actor_role=order_service.acting_role(permitted).value,
        actor_id=actor_id,
        change=(before.value, request.status.value),
        details=recorded,
    )


async def ship_back(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[ReturnRequest, OrderActor],
    *,
    settings: Settings,
    provider: PaymentProvider,
    carrier: str,
    carrier_name: str | None,
    tracking_number: str,
) -> None:
    """The buyer sends the goods back, as a tracked parcel of the order (checked like the
    seller's: 422 for a number the carrier could not have issued). Its guard locked the
    return; the order is locked next, as always."""
    request = guarded.subject
    RETURN_LIFECYCLE.target(request.status, ReturnAction.ship_back, guarded.roles, request)
    order = await order_service.lock(session, request.order_id)
    parcel = await logistics.ship_return(
        session,
        order,
        settings=settings,
        return_id=request.id,
        items=[(item.order_line_id, item.quantity) for item in request.items],
        carrier=carrier,
        carrier_name=carrier_name,
        tracking_number=tracking_number,
        actor_id=principal.user_id,
    )
    details = {"carrier": parcel.carrier, "tracking_number": parcel.tracking_number}
    await _apply(
        session,
        provider,
        request,
        ReturnAction.ship_back,
        guarded.roles,
        principal.user_id,
        details,
    )


async def receive_delivered(
    session: AsyncSession, provider: PaymentProvider, request: ReturnRequest
) -> None:
    """The carrier delivered the parcel back and the seller let the inspection time pass."""
    await _apply(session, provider, request, ReturnAction.receive, {OrderActor.system}, None, {})


async def approve_overdue(
    session: AsyncSession, provider: PaymentProvider, request: ReturnRequest
) -> None:
    """The seller did not answer in time: the return counts as approved."""
    await _apply(session, provider, request, ReturnAction.approve, {OrderActor.system}, None, {})


async def dispute_allowed_after(session: AsyncSession, order_id: uuid.UUID) -> bool:
    """Whether a dispute may be opened as far as returns go: no return of this order waits
    for the seller's decision or the buyer's parcel (a rejected one sends the buyer to a
    dispute; one shipped back but never confirmed may be disputed)."""
    return not await ReturnRepository(session).in_progress_for(order_id)
