"""Disputes: the buyer asks the platform to step in; the seller answers, either side may
escalate, an admin (or the seller's silence) decides, and the money moves in the same
transaction as the decision."""

import uuid
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import PartySide, Principal
from app.config import Settings
from app.core.clock import now
from app.core.errors import Forbidden
from app.core.events import EventType
from app.core.guards import Guarded
from app.core.ids import uuid7
from app.core.money import Money, require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.core.storage import MediaStorage, sniff_evidence_type
from app.disputes import returns
from app.disputes.events import DisputeEventType
from app.disputes.exceptions import (
    DisputeClosed,
    DisputeExists,
    DisputeNotFound,
    DisputeWindowClosed,
    EvidenceNotFound,
    EvidenceTooLarge,
    OrderNotDisputable,
    RefundTooLarge,
    ReturnInProgress,
    UnknownEvidence,
    UnsupportedEvidenceType,
)
from app.disputes.listing import listed
from app.disputes.models import (
    Dispute,
    DisputeMessage,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    Evidence,
)
from app.disputes.repository import DisputeRepository, OrderContext
from app.disputes.schemas import DisputeCreate, DisputeResolve
from app.disputes.state import (
    DISPUTE_LIFECYCLE,
    DiscussionAction,
    DisputeAction,
    deadline_of,
    discussion_open,
)
from app.orders import service as order_service
from app.orders.models import EventSubject, Order, OrderStatus
from app.orders.state import OrderActor
from app.payments.provider import PaymentProvider

_DISPUTABLE = (OrderStatus.paid, OrderStatus.shipped, OrderStatus.completed)
# Sniffing needs only a file's first bytes.
_MAX_SNIFF = 64


_DISCUSSANTS = frozenset({OrderActor.buyer, OrderActor.seller, OrderActor.admin})


def actions(dispute: Dispute, actors: AbstractSet[OrderActor]) -> list[tuple[str, datetime | None]]:
    """What the caller may do now, each with the moment the chance ends (None: no
    deadline): the seller's answer is due by `respond_by`; then messages and evidence, open
    to the parties and admins until the dispute is resolved (escalated included)."""
    found: list[tuple[str, datetime | None]] = [
        (a.value, dispute.respond_by if a is DisputeAction.seller_reply else None)
        for a in DISPUTE_LIFECYCLE.allowed_actions(dispute.status, actors, dispute)
    ]
    if discussion_open(dispute) and actors & _DISCUSSANTS:
        found += [(a.value, None) for a in DiscussionAction]
    return found


def allowed_actions(dispute: Dispute, actors: AbstractSet[OrderActor]) -> list[str]:
    return [name for name, _deadline in actions(dispute, actors)]


async def open_dispute(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[Order, OrderActor],
    *,
    settings: Settings,
    data: DisputeCreate,
) -> Guarded[Dispute, OrderActor]:
    """The buyer's dispute, on an order its guard row-locked."""
    order = guarded.subject
    if OrderActor.buyer not in guarded.roles:
        raise Forbidden("only the buyer may open a dispute")
    if await DisputeRepository(session).exists_for(order.id):
        raise DisputeExists()
    if order.status not in _DISPUTABLE:
        raise OrderNotDisputable(f"the order is {order.status.value}")
    if order.dispute_deadline is not None and order.dispute_deadline <= now():
        raise DisputeWindowClosed(f"disputes closed at {order.dispute_deadline.isoformat()}")
    if not await returns.dispute_allowed_after(session, order.id):
        raise ReturnInProgress("finish or wait for the seller's answer on the return first")
    requested = None
    if data.requested_amount is not None:
        requested = require_currency(data.requested_amount, order.currency)
        _check_refund(order, requested)
    dispute = Dispute(
        id=uuid7(),
        order_id=order.id,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        status=DisputeStatus.open,
        reason=data.reason,
        description=data.description,
        requested_outcome=data.requested_outcome,
        currency=order.currency,
        requested_amount=requested,
        respond_by=now() + settings.dispute_response_time,
        messages=[],  # none yet; set so that the answer reads it without a query
    )
    await DisputeRepository(session).save_unique(dispute, DisputeExists())
    await order_service.open_dispute(
        session, order, guarded.roles, actor_id=principal.user_id, dispute_id=dispute.id
    )
    await order_service.record_event(
        session,
        order.id,
        EventSubject.dispute,
        dispute.id,
        DisputeEventType.opened,
        action="open",
        actor_role=OrderActor.buyer.value,
        actor_id=principal.user_id,
        change=(None, dispute.status.value),
        details={
            "reason": data.reason.value,
            "requested_outcome": data.requested_outcome.value,
            **deadline_of(dispute),
        },
    )
    opened = Guarded(dispute, order_service.roles_of(dispute, principal))
    if data.reason is DisputeReason.not_received and order.delivered_at is not None:
        # The carrier reported the parcel delivered: the seller's silence must not decide
        # it for the buyer, nor the buyer's for the seller. It goes straight to an admin.
        await escalate(session, principal, opened)
    return opened


def _check_refund(order: Order, amount: int) -> None:
    if amount > order_service.refundable(order):
        raise RefundTooLarge(
            f"at most {order_service.refundable(order)} can be refunded on this order"
        )


async def get_visible(
    session: AsyncSession, principal: Principal, dispute_id: uuid.UUID, *, lock: bool
) -> Guarded[Dispute, OrderActor]:
    """A dispute the caller may see (a party, or an admin), with their roles on it; 404
    otherwise, decided by the query. `lock` holds its row for the rest of the transaction
    (a decision then locks its order: always dispute, then order)."""
    dispute = await DisputeRepository(session).get_visible(principal, dispute_id, lock=lock)
    if dispute is None:
        raise DisputeNotFound()
    return Guarded(dispute, order_service.roles_of(dispute, principal))


async def evidence_of(session: AsyncSession, dispute: Dispute) -> dict[uuid.UUID, Evidence]:
    return {e.id: e for e in await DisputeRepository(session).evidence_of(dispute.id)}


async def add_message(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[Dispute, OrderActor],
    *,
    settings: Settings,
    body: str,
    evidence_ids: list[uuid.UUID],
) -> None:
    """A message from a party or an admin. The seller's answer (or the buyer's answer back)
    moves the dispute on, and decides who owes the next answer."""
    dispute = guarded.subject
    if not discussion_open(dispute):
        raise DisputeClosed()
    known = await evidence_of(session, dispute)
    if unknown := [str(i) for i in evidence_ids if i not in known]:
        raise UnknownEvidence(f"not evidence of this dispute: {', '.join(unknown)}")
    role = order_service.acting_role(guarded.roles)
    message = DisputeMessage(
        dispute_id=dispute.id,
        author_id=principal.user_id,
        author_role=role.value,
        body=body,
        evidence_ids=[str(i) for i in evidence_ids],
    )
    dispute.messages.append(message)  # the answer shows it without reloading
    await session.flush()
    reply = {
        OrderActor.seller: DisputeAction.seller_reply,
        OrderActor.buyer: DisputeAction.buyer_reply,
    }
    action = reply.get(role)
    before = dispute.status
    # A message that moves nothing (an admin's, or one while the other side owes the answer)
    # is still an answer in the dispute.
    step = "message"
    event: EventType | None = DisputeEventType.answered
    if action is not None and action in DISPUTE_LIFECYCLE.allowed_actions(before, {role}, dispute):
        dispute.status = DISPUTE_LIFECYCLE.target(before, action, {role}, dispute)
        # Whoever owes the next answer: the seller again (with a fresh deadline) or the buyer.
        seller_owes = dispute.status is DisputeStatus.awaiting_seller
        dispute.respond_by = now() + settings.dispute_response_time if seller_owes else None
        step, event = action.value, DISPUTE_LIFECYCLE.event_of(before, action, dispute.status)
    await _record(
        session,
        dispute,
        step,
        event,
        role,
        principal.user_id,
        before,
        {"message_id": str(message.id)},
    )


async def upload_evidence(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[Dispute, OrderActor],
    *,
    settings: Settings,
    storage: MediaStorage,
    filename: str,
    data: bytes,
) -> Evidence:
    dispute = guarded.subject
    if not discussion_open(dispute):
        raise DisputeClosed()
    if len(data) > settings.max_evidence_bytes:
        raise EvidenceTooLarge(f"files may be at most {settings.max_evidence_bytes} bytes")
    kind = sniff_evidence_type(data[:_MAX_SNIFF])
    if kind is None:
        raise UnsupportedEvidenceType("the file is not a JPEG, PNG, WebP image or a PDF")
    content_type, extension = kind
    evidence_id = uuid7()
    key = f"disputes/{dispute.id}/{evidence_id}.{extension}"
    # Written before the row: a rollback leaves an orphan file, never a row without a file.
    await storage.save(key, data)
    evidence = Evidence(
        id=evidence_id,
        dispute_id=dispute.id,
        uploader_id=principal.user_id,
        uploader_role=order_service.acting_role(guarded.roles).value,
        storage_key=key,
        content_type=content_type,
        filename=filename[-255:] or f"evidence.{extension}",
        size_bytes=len(data),
    )
    session.add(evidence)
    await session.flush()
    return evidence


async def evidence_in(
    session: AsyncSession, guarded: Guarded[Dispute, OrderActor], evidence_id: uuid.UUID
) -> Guarded[Evidence, OrderActor]:
    """One evidence file of a dispute the caller may see, with their roles on the dispute."""
    evidence = (await evidence_of(session, guarded.subject)).get(evidence_id)
    if evidence is None:
        raise EvidenceNotFound()
    return Guarded(evidence, guarded.roles)


async def read_evidence(storage: MediaStorage, evidence: Evidence) -> bytes:
    return await storage.read(evidence.storage_key)


async def escalate(
    session: AsyncSession, principal: Principal, guarded: Guarded[Dispute, OrderActor]
) -> None:
    """Either party asks an admin to decide; no deadline runs any more."""
    dispute = guarded.subject
    before = dispute.status
    dispute.status = DISPUTE_LIFECYCLE.target(
        before, DisputeAction.escalate, guarded.roles, dispute
    )
    dispute.respond_by = None
    permitted = guarded.roles & DISPUTE_LIFECYCLE.table[(before, DisputeAction.escalate)].actors
    await _record(
        session,
        dispute,
        DisputeAction.escalate.value,
        DISPUTE_LIFECYCLE.event_of(before, DisputeAction.escalate, dispute.status),
        order_service.acting_role(permitted),
        principal.user_id,
        before,
        {},
    )


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: DisputeOutcome
    refund_amount: int | None
    note: str | None


async def resolve(
    session: AsyncSession,
    principal: Principal,
    guarded: Guarded[Dispute, OrderActor],
    *,
    settings: Settings,
    provider: PaymentProvider,
    data: DisputeResolve,
) -> None:
    """An admin decides. The dispute's row lock (its guard's) makes a second, concurrent
    decision wait and then find the dispute resolved (409): the money moves once."""
    dispute = guarded.subject
    amount = None
    if data.refund_amount is not None:
        amount = require_currency(data.refund_amount, dispute.currency)
    await _settle(
        session,
        settings,
        provider,
        dispute,
        DisputeAction.resolve,
        guarded.roles,
        principal.user_id,
        Decision(data.outcome, amount, data.note),
    )


async def resolve_unanswered(
    session: AsyncSession, settings: Settings, provider: PaymentProvider, dispute: Dispute
) -> None:
    """The seller let the deadline pass: the buyer gets what they asked for."""
    decision = Decision(
        dispute.requested_outcome,
        dispute.requested_amount,
        "resolved for the buyer: the seller did not answer in time",
    )
    await _settle(
        session,
        settings,
        provider,
        dispute,
        DisputeAction.auto_resolve,
        {OrderActor.system},
        None,
        decision,
    )


async def _settle(
    session: AsyncSession,
    settings: Settings,
    provider: PaymentProvider,
    dispute: Dispute,
    action: DisputeAction,
    actors: AbstractSet[OrderActor],
    actor_id: uuid.UUID | None,
    decision: Decision,
) -> None:
    before = dispute.status
    dispute.status = DISPUTE_LIFECYCLE.target(before, action, actors, dispute)
    order = await order_service.lock(session, dispute.order_id)
    refund = {
        DisputeOutcome.refund_buyer: order_service.refundable(order),
        DisputeOutcome.release_to_seller: 0,
    }.get(decision.outcome, decision.refund_amount or 0)
    if decision.outcome is DisputeOutcome.partial_refund and action is DisputeAction.resolve:
        _check_refund(order, refund)
    refund = min(refund, order_service.refundable(order))
    role = OrderActor.system if action is DisputeAction.auto_resolve else OrderActor.admin
    await order_service.resolve_dispute(
        session,
        settings,
        provider,
        order,
        {role},
        refund=refund,
        actor_id=actor_id,
        details={"dispute_id": str(dispute.id), "outcome": decision.outcome.value},
    )
    dispute.outcome = decision.outcome
    dispute.refund_amount = refund
    dispute.resolution_note = decision.note
    dispute.resolved_by = actor_id
    dispute.resolved_at = now()
    dispute.respond_by = None
    permitted = actors & DISPUTE_LIFECYCLE.table[(before, action)].actors
    await _record(
        session,
        dispute,
        action.value,
        DISPUTE_LIFECYCLE.event_of(before, action, dispute.status),
        order_service.acting_role(permitted),
        actor_id,
        before,
        {
            "outcome": decision.outcome.value,
            "refund": Money(amount=refund, currency=dispute.currency).model_dump(),
        },
    )


async def _record(
    session: AsyncSession,
    dispute: Dispute,
    action: str,
    event: EventType | None,
    role: OrderActor,
    actor_id: uuid.UUID | None,
    before: DisputeStatus,
    details: dict[str, object],
) -> None:
    await session.flush()
    await order_service.record_event(
        session,
        dispute.order_id,
        EventSubject.dispute,
        dispute.id,
        event,
        action=action,
        actor_role=role.value,
        actor_id=actor_id,
        change=(before.value, dispute.status.value),
        details={**details, **deadline_of(dispute)},
    )


Listed = tuple[Guarded[Dispute, OrderActor], OrderContext]
"""A dispute of a list, with the caller's roles on it and its order's context."""


async def queue(
    session: AsyncSession,
    principal: Principal,
    *,
    status: DisputeStatus | None,
    reason: DisputeReason | None,
    page: PageParams,
) -> tuple[list[Listed], str | None]:
    """The admin queue, oldest first (ids are time-ordered)."""
    statement = DisputeRepository(session).queue(status, reason)
    rows, next_cursor = await paginate(session, statement, keys=[SortKey(Dispute.id)], page=page)
    return listed(rows, principal), next_cursor


async def list_for(
    session: AsyncSession,
    principal: Principal,
    *,
    role: PartySide | None,
    statuses: list[DisputeStatus],
    order_id: uuid.UUID | None,
    page: PageParams,
) -> tuple[list[Listed], str | None]:
    """The caller's disputes, newest first, each with their roles on it and its order's
    context."""
    rows, next_cursor = await DisputeRepository(session).page_of_party(
        principal, role=role, statuses=statuses, order_id=order_id, page=page
    )
    return listed(rows, principal), next_cursor


async def context(session: AsyncSession, dispute: Dispute) -> OrderContext:
    return await DisputeRepository(session).context(dispute)
