"""The orders' admin face: the ledger reconciled against the orders' states.

The reconciliation itself is payments' (`app.payments.reconcile`); its route lives here
because two of its checks need the orders' states, which payments, below orders, cannot
import."""

from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.core.db import DbSession
from app.orders import service
from app.payments.schemas import ReconcileReport

router = admin_api_router("/ledger")


@router.get("/reconcile", response_model=ReconcileReport)
async def reconcile_ledger(_admin: AdminPrincipal, session: DbSession) -> ReconcileReport:
    """Check every ledger invariant: each transaction balanced, the ledger summing to zero,
    no escrow left on closed orders, no reserve left once a dispute is over, no negative
    pending, reserved or in-transit balance (available may be negative: a seller's debt after
    refunds), and the ledger agreeing with the payment provider's records. Lists every
    violation."""
    return await service.reconcile_ledger(session)
