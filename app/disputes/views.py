"""Disputes and returns as the API shows them to one caller."""

from datetime import datetime
from typing import Any

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.core.guards import Guarded
from app.core.money import Money
from app.core.schemas import ActionRead
from app.disputes import returns
from app.disputes import service as disputes
from app.disputes.models import Dispute, Evidence, ReturnRequest
from app.disputes.repository import OrderContext
from app.disputes.schemas import (
    DisputeMessageRead,
    DisputeRead,
    DisputeSummary,
    EvidenceRead,
    ReturnItemRead,
    ReturnRead,
    ReturnSummary,
)
from app.logistics import service as logistics
from app.logistics.views import to_read as parcel_read
from app.orders import service as order_service
from app.orders.state import OrderActor
from app.orders.views import events_to_read


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount=amount, currency=currency)


def _age_seconds(dispute: Dispute) -> int:
    return max(0, int((now() - dispute.created_at).total_seconds()))


def _actions(found: list[tuple[str, datetime | None]]) -> list[ActionRead]:
    return [ActionRead(name=name, deadline=deadline) for name, deadline in found]


def _party_fields(
    subject: ReturnRequest | Dispute,
    context: OrderContext,
    found: list[tuple[str, datetime | None]],
) -> dict[str, Any]:
    """What every answer about a return or a dispute shows alike: its order and parties with
    their names, its state, and what the caller may do until when."""
    return {
        "id": subject.id,
        "order_id": subject.order_id,
        "buyer_id": subject.buyer_id,
        "buyer_display_name": context.buyer_display_name,
        "shop_id": subject.seller_id,
        "seller_id": subject.seller_id,
        "shop_name": context.shop_name,
        "status": subject.status,
        "reason": subject.reason,
        "respond_by": subject.respond_by,
        "created_at": subject.created_at,
        "allowed_actions": [name for name, _deadline in found],
        "actions": _actions(found),
    }


async def return_read(
    session: AsyncSession, guarded: Guarded[ReturnRequest, OrderActor]
) -> ReturnRead:
    request = guarded.subject
    context = await returns.context(session, request)
    lines = await returns.lines_of(session, request)
    found = returns.actions(request, guarded.roles)
    parcel = await logistics.return_parcel(session, request.id)
    return ReturnRead(
        **_party_fields(request, context, found),
        details=request.details,
        items=[
            ReturnItemRead(
                line_id=i.order_line_id,
                listing_id=lines[i.order_line_id].listing_id,
                title=lines[i.order_line_id].title,
                quantity=i.quantity,
            )
            for i in request.items
        ],
        refund=Money(amount=request.refund_amount, currency=request.currency),
        rejection_reason=request.rejection_reason,
        # The parcel's, which a correction may have changed since it was shipped back.
        carrier=parcel.shipment.carrier if parcel else request.carrier,
        tracking_number=parcel.shipment.tracking_number if parcel else request.tracking_number,
        parcel=parcel_read(parcel) if parcel is not None else None,
        received_at=request.received_at,
        timeline=events_to_read(await order_service.subject_events(session, request.id)),
    )


def return_summaries(
    rows: list[tuple[Guarded[ReturnRequest, OrderActor], OrderContext]],
) -> list[ReturnSummary]:
    summaries = []
    for guarded, context in rows:
        request = guarded.subject
        found = returns.actions(request, guarded.roles)
        summaries.append(
            ReturnSummary(
                **_party_fields(request, context, found),
                refund=Money(amount=request.refund_amount, currency=request.currency),
            )
        )
    return summaries


def evidence_read(evidence: Evidence) -> EvidenceRead:
    return EvidenceRead(
        id=evidence.id,
        filename=evidence.filename,
        content_type=evidence.content_type,
        size_bytes=evidence.size_bytes,
        uploader_id=evidence.uploader_id,
        uploader_role=evidence.uploader_role,
        url=f"/v1/disputes/{evidence.dispute_id}/evidence/{evidence.id}",
        created_at=evidence.created_at,
    )


def evidence_file(evidence: Evidence, data: bytes) -> Response:
    """The file itself, as a download (never rendered: it is whatever a party uploaded)."""
    return Response(
        data,
        media_type=evidence.content_type,
        headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "attachment"},
    )


async def dispute_read(session: AsyncSession, guarded: Guarded[Dispute, OrderActor]) -> DisputeRead:
    dispute = guarded.subject
    context = await disputes.context(session, dispute)
    evidence = await disputes.evidence_of(session, dispute)
    by_id = {str(k): v for k, v in evidence.items()}
    found = disputes.actions(dispute, guarded.roles)
    return DisputeRead(
        **_party_fields(dispute, context, found),
        order_total=Money(amount=context.order_total, currency=dispute.currency),
        description=dispute.description,
        requested_outcome=dispute.requested_outcome,
        requested_amount=_money(dispute.requested_amount, dispute.currency),
        outcome=dispute.outcome,
        refund=_money(dispute.refund_amount, dispute.currency),
        resolution_note=dispute.resolution_note,
        resolved_at=dispute.resolved_at,
        age_seconds=_age_seconds(dispute),
        messages=[
            DisputeMessageRead(
                id=m.id,
                author_id=m.author_id,
                author_role=m.author_role,
                body=m.body,
                evidence=[evidence_read(by_id[i]) for i in m.evidence_ids if i in by_id],
                created_at=m.created_at,
            )
            for m in dispute.messages
        ],
        evidence=[evidence_read(e) for e in evidence.values()],
        timeline=events_to_read(await order_service.subject_events(session, dispute.id)),
    )


def dispute_summaries(rows: list[disputes.Listed]) -> list[DisputeSummary]:
    summaries = []
    for guarded, context in rows:
        d = guarded.subject
        found = disputes.actions(d, guarded.roles)
        summaries.append(
            DisputeSummary(
                **_party_fields(d, context, found),
                requested_outcome=d.requested_outcome,
                requested_amount=_money(d.requested_amount, d.currency),
                outcome=d.outcome,
                refund=_money(d.refund_amount, d.currency),
                order_total=Money(amount=context.order_total, currency=d.currency),
                resolved_at=d.resolved_at,
                age_seconds=_age_seconds(d),
            )
        )
    return summaries
