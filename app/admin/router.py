"""The admin face: every admin operation of every domain is found from here.

The rule: a domain keeps its admin routes in its own `admin_router.py` (next to the service
they call), and this module mounts them all, in the order the API documents them. The audit
log, which spans every domain, is the admin package's own."""

from fastapi import APIRouter

from app.admin.audit_router import router as audit_router
from app.auth.admin_router import router as users_router
from app.catalog.admin_router import router as catalog_router
from app.disputes.admin_router import router as disputes_router
from app.orders.admin_router import router as ledger_router
from app.reviews.admin_router import router as reviews_router
from app.sellers.admin_router import router as sellers_router

ADMIN_ROUTERS: tuple[APIRouter, ...] = (
    users_router,
    sellers_router,
    catalog_router,
    ledger_router,
    disputes_router,
    reviews_router,
    audit_router,
)
