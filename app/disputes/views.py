"""Disputes and returns as the API shows them to one caller."""

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.core.guards import Guarded
from app.core.money import Money
from app.disputes import returns
from app.disputes import service as disputes
from app.disputes.models import Dispute, Evidence, ReturnRequest
from app.disputes.schemas import (
    DisputeMessageRead,
    DisputeRead,
    DisputeSummary,
    EvidenceRead,
    ReturnItemRead,
    ReturnRead,
)
from app.orders import service as order_service
from app.orders.state import OrderActor
from app.orders.views import events_to_read


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount=amount, currency=currency)


def _age_seconds(dispute: Dispute) -> int:
    return max(0, int((now() - dispute.created_at).total_seconds()))


async def return_read(
    session: AsyncSession, guarded: Guarded[ReturnRequest, OrderActor]
) -> ReturnRead:
    request = guarded.subject
    return ReturnRead(
        id=request.id,
        order_id=request.order_id,
        buyer_id=request.buyer_id,
        seller_id=request.seller_id,
        status=request.status,
        reason=request.reason,
        details=request.details,
        items=[ReturnItemRead(line_id=i.order_line_id, quantity=i.quantity) for i in request.items],
        refund=Money(amount=request.refund_amount, currency=request.currency),
        respond_by=request.respond_by,
        rejection_reason=request.rejection_reason,
        carrier=request.carrier,
        tracking_number=request.tracking_number,
        received_at=request.received_at,
        created_at=request.created_at,
        allowed_actions=returns.allowed_actions(request, guarded.roles),
        timeline=events_to_read(await order_service.subject_events(session, request.id)),
    )


def evidence_read(evidence: Evidence) -> EvidenceRead:
    return EvidenceRead(
        id=evidence.id,
        filename=evidence.filename,
        content_type=evidence.content_type,
        size_bytes=evidence.size_bytes,
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
    evidence = {str(k): v for k, v in (await disputes.evidence_of(session, dispute)).items()}
    return DisputeRead(
        id=dispute.id,
        order_id=dispute.order_id,
        buyer_id=dispute.buyer_id,
        seller_id=dispute.seller_id,
        status=dispute.status,
        reason=dispute.reason,
        description=dispute.description,
        requested_outcome=dispute.requested_outcome,
        requested_amount=_money(dispute.requested_amount, dispute.currency),
        respond_by=dispute.respond_by,
        outcome=dispute.outcome,
        refund=_money(dispute.refund_amount, dispute.currency),
        resolution_note=dispute.resolution_note,
        resolved_at=dispute.resolved_at,
        created_at=dispute.created_at,
        age_seconds=_age_seconds(dispute),
        allowed_actions=disputes.allowed_actions(dispute, guarded.roles),
        messages=[
            DisputeMessageRead(
                id=m.id,
                author_id=m.author_id,
                author_role=m.author_role,
                body=m.body,
                evidence=[evidence_read(evidence[i]) for i in m.evidence_ids if i in evidence],
                created_at=m.created_at,
            )
            for m in dispute.messages
        ],
        timeline=events_to_read(await order_service.subject_events(session, dispute.id)),
    )


async def dispute_summaries(session: AsyncSession, rows: list[Dispute]) -> list[DisputeSummary]:
    totals = await order_service.totals(session, [d.order_id for d in rows])
    return [
        DisputeSummary(
            id=d.id,
            order_id=d.order_id,
            status=d.status,
            reason=d.reason,
            requested_outcome=d.requested_outcome,
            order_total=Money(amount=totals[d.order_id], currency=d.currency),
            respond_by=d.respond_by,
            created_at=d.created_at,
            age_seconds=_age_seconds(d),
        )
        for d in rows
    ]
