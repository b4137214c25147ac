"""Return and dispute guards: the return, dispute or evidence file a request is about,
loaded through a query scoped to the caller and locked when the request writes (the
subject's row; a step that moves money then locks its order, always in that order)."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.core.db import DbSession
from app.core.guards import Guarded, writes
from app.disputes import returns, service
from app.disputes.models import Dispute, Evidence, ReturnRequest
from app.orders.state import OrderActor


async def guard_return(
    return_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[ReturnRequest, OrderActor]:
    return await returns.get_visible(session, principal, return_id, lock=writes(request))


ReturnGuard = Annotated[Guarded[ReturnRequest, OrderActor], Depends(guard_return)]
"""A return of an order the caller bought or sold (or any, for an admin), with their roles."""


async def guard_dispute(
    dispute_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[Dispute, OrderActor]:
    return await service.get_visible(session, principal, dispute_id, lock=writes(request))


DisputeGuard = Annotated[Guarded[Dispute, OrderActor], Depends(guard_dispute)]
"""A dispute the caller is a party to (or any, for an admin), with their roles on it."""


async def guard_evidence(
    dispute_id: uuid.UUID,
    evidence_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
) -> Guarded[Evidence, OrderActor]:
    # Both path parameters are this guard's own, in the path's order: the spec lists a
    # dependency's own parameters before its sub-dependencies', so depending on
    # `DisputeGuard` would put `evidence_id` first.
    dispute = await service.get_visible(session, principal, dispute_id, lock=writes(request))
    return await service.evidence_in(session, dispute, evidence_id)


EvidenceGuard = Annotated[Guarded[Evidence, OrderActor], Depends(guard_evidence)]
"""One evidence file of a dispute the caller may see, with their roles on the dispute."""
