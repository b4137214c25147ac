"""Every domain's /v1 router, in one place. Order matters where paths overlap:
`/v1/sellers/me` must be matched before the storefront's `/v1/sellers/{seller_id}`."""

from fastapi import APIRouter

from app.admin.router import ADMIN_ROUTERS
from app.auth.dependencies import get_optional_principal, get_principal
from app.auth.router import create_api_key, me_router, refresh, token
from app.auth.router import router as auth_router
from app.auth.totp.router import (
    confirm_totp,
    enrol_totp,
    regenerate_totp_recovery_codes,
)
from app.auth.totp.router import router as totp_router
from app.catalog.router import categories_router, listings_router, storefront_router
from app.conversations.router import conversations_router
from app.core.idempotency import accept_idempotency_keys
from app.core.routing import refuse_unknown_query_parameters
from app.disputes.router import disputes_router, returns_router
from app.fees.router import ROUTERS as FEE_ROUTERS
from app.logistics.router import shipping_router
from app.messaging.notifications.router import router as notifications_router
from app.messaging.webhooks.router import router as webhooks_router
from app.offers.router import ROUTERS as OFFER_ROUTERS
from app.orders.router import cart_router, checkout_router, orders_router
from app.payments.router import router as payouts_router
from app.privacy.router import router as privacy_router
from app.promotions.router import ROUTERS as PROMOTION_ROUTERS
from app.reviews.router import profiles_router, reviews_router
from app.sellers.router import router as sellers_router
from app.shipping.router import carriers_router, shipping_profiles_router
from app.watchlists.router import ROUTERS as WATCHLIST_ROUTERS

DOMAIN_ROUTERS: tuple[APIRouter, ...] = (
    # First: routes are matched one by one in this order, and a listing's page and search
    # are the most frequent requests by far (no other router's paths overlap theirs).
    listings_router,
    auth_router,
    me_router,
    totp_router,
    privacy_router,
    sellers_router,
    payouts_router,
    # Before the storefront: its `/v1/sellers/{seller_id}...` would read `me` as an id.
    shipping_profiles_router,
    *PROMOTION_ROUTERS,
    *FEE_ROUTERS,
    storefront_router,
    profiles_router,
    categories_router,
    cart_router,
    checkout_router,
    orders_router,
    shipping_router,
    carriers_router,
    returns_router,
    disputes_router,
    reviews_router,
    conversations_router,
    *OFFER_ROUTERS,
    *WATCHLIST_ROUTERS,
    notifications_router,
    webhooks_router,
    *ADMIN_ROUTERS,
)

for _router in DOMAIN_ROUTERS:
    # Any POST may send an Idempotency-Key (API.md), a new one included. Logging in,
    # refreshing, creating an API key and a second factor's secret or recovery codes answer
    # with credentials the database keeps only hashed or encrypted: their answers are never
    # stored for replay.
    accept_idempotency_keys(
        _router,
        key_owners=(get_principal, get_optional_principal),
        never_stored={
            token,
            refresh,
            create_api_key,
            enrol_totp,
            confirm_totp,
            regenerate_totp_recovery_codes,
        },
    )
    refuse_unknown_query_parameters(_router)
