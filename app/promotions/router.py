"""The promotions routes: a shop's own promotions (shop-funded, on its listings) and the
admins' (platform-funded), with a way to end one early."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import AdminPrincipal, AppSettings, admin_api_router
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import InvalidTransition, ValidationFailed, error_responses
from app.core.money import CurrencyNotSupported
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of
from app.promotions import service, views
from app.promotions.dependencies import AdminPromotion, OwnPromotion
from app.promotions.exceptions import CouponCodeTaken, PromotionNotFound, ShopPromotionReadOnly
from app.promotions.models import FundedBy
from app.promotions.schemas import (
    AdminPromotionCreate,
    AdminPromotionUpdate,
    PromotionCreate,
    PromotionEnd,
    PromotionRead,
    PromotionUpdate,
)
from app.sellers.dependencies import ActiveSeller, ShopPrincipal
from app.sellers.exceptions import SellerRequired, SellerSuspended

seller_router = APIRouter(
    prefix=f"{API_PREFIX}/sellers/me/coupons",
    tags=["promotions"],
    responses=error_responses(InvalidToken, SellerRequired),
)
admin_router = admin_api_router("/coupons")

_WRITE_ERRORS = (ValidationFailed, CurrencyNotSupported, CouponCodeTaken)

_RULES = """

How a promotion applies at checkout: it reaches the lines that pass each restriction it has
(shop, category with its sub-categories, listing); its minimum (`min_order_amount`, a
threshold's tiers) is measured on what those lines cost before any discount; a percentage
is taken from what the discounts applied before it left (rounded half up, capped by
`max_discount`), a fixed amount or a tier's discount is never more than what is left. Of the
automatic promotions (no `code`) a checkout gets the best shop-funded one of each shop and
the best platform-funded one; codes the buyer enters apply on top. Shop-funded discounts
apply first, then platform-funded ones. A checkout counts once against `max_redemptions`
and `max_per_buyer` however many orders it splits into; an order cancelled before shipping
gives its use back."""


# --- a shop's own -------------------------------------------------------------------------------


@seller_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PromotionRead,
    responses=error_responses(*_WRITE_ERRORS, SellerSuspended),
    summary="Create a shop promotion",
)
async def create_promotion(
    body: PromotionCreate, seller: ActiveSeller, session: DbSession, settings: AppSettings
) -> PromotionRead:
    """A promotion your shop pays for (`funded_by: shop`), on your own listings only
    (narrow it further with `category_ids` and `listing_ids`). With a `code`, buyers enter
    it at checkout; without one it applies by itself to every checkout it can. Amounts are
    in the platform's currency."""
    return views.promotion_read(await service.create_for_shop(session, settings, seller, body))


create_promotion.__doc__ = (create_promotion.__doc__ or "") + _RULES


@seller_router.get(
    "",
    response_model=Page[PromotionRead],
    responses=error_responses(InvalidCursor),
    summary="List your shop's promotions",
)
async def list_promotions(
    principal: ShopPrincipal, session: DbSession, page: PageQuery
) -> Page[PromotionRead]:
    """Your shop's promotions, newest first, whatever their status, each with the
    redemptions so far."""
    return page_of(*await service.list_own(session, principal, page), views.promotion_read)


@seller_router.get(
    "/{promotion_id}",
    response_model=PromotionRead,
    responses=error_responses(PromotionNotFound),
    summary="Read one of your shop's promotions",
)
async def get_promotion(promotion: OwnPromotion) -> PromotionRead:
    """One of your shop's promotions, with its redemptions so far."""
    return views.promotion_read(promotion)


@seller_router.patch(
    "/{promotion_id}",
    response_model=PromotionRead,
    responses=error_responses(
        PromotionNotFound, InvalidTransition, SellerSuspended, *_WRITE_ERRORS
    ),
    summary="Change one of your shop's promotions",
)
async def update_promotion(
    body: PromotionUpdate,
    _seller: ActiveSeller,
    promotion: OwnPromotion,
    session: DbSession,
    settings: AppSettings,
) -> PromotionRead:
    """Change the fields you send; the others stay. The kind stays (end the promotion and
    make another). Checkouts from now on see the change; orders keep the discount they
    were given. An ended promotion does not change (409 `invalid_transition`)."""
    return views.promotion_read(await service.update_own(session, settings, promotion, body))


@seller_router.post(
    "/{promotion_id}/end",
    response_model=PromotionRead,
    responses=error_responses(PromotionNotFound, InvalidTransition),
    summary="End one of your shop's promotions now",
)
async def end_promotion(promotion: OwnPromotion, session: DbSession) -> PromotionRead:
    """No checkout gets it from now on (its `ends_at` becomes now); orders keep the
    discount they were given. A suspended shop may still end its promotions. Already ended:
    409 `invalid_transition`."""
    return views.promotion_read(await service.end(session, promotion))


# --- the platform's (admin) -----------------------------------------------------------------------


@admin_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PromotionRead,
    responses=error_responses(*_WRITE_ERRORS),
    summary="Create a platform promotion",
)
async def create_platform_promotion(
    body: AdminPromotionCreate, admin: AdminPrincipal, session: DbSession, settings: AppSettings
) -> PromotionRead:
    """A promotion the platform pays for (`funded_by: platform`), on every shop's listings
    unless `seller_ids`, `category_ids` or `listing_ids` narrow it. Audited."""
    return views.promotion_read(await service.create_platform(session, settings, admin, body))


create_platform_promotion.__doc__ = (create_platform_promotion.__doc__ or "") + _RULES


@admin_router.get(
    "",
    response_model=Page[PromotionRead],
    responses=error_responses(InvalidCursor),
    summary="List all promotions",
)
async def list_all_promotions(
    admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    funded_by: Annotated[
        FundedBy | None, Query(description="Only the platform's, or only the shops'")
    ] = None,
) -> Page[PromotionRead]:
    """Every promotion, the shops' included, newest first."""
    rows, next_cursor = await service.list_all(session, page, funded_by=funded_by)
    return page_of(rows, next_cursor, views.promotion_read)


@admin_router.get(
    "/{promotion_id}",
    response_model=PromotionRead,
    responses=error_responses(PromotionNotFound),
    summary="Read any promotion",
)
async def get_any_promotion(promotion: AdminPromotion) -> PromotionRead:
    """Any promotion, a shop's included, with its redemptions so far."""
    return views.promotion_read(promotion)


@admin_router.patch(
    "/{promotion_id}",
    response_model=PromotionRead,
    responses=error_responses(
        PromotionNotFound, InvalidTransition, ShopPromotionReadOnly, *_WRITE_ERRORS
    ),
    summary="Change a platform promotion",
)
async def update_platform_promotion(
    body: AdminPromotionUpdate,
    admin: AdminPrincipal,
    promotion: AdminPromotion,
    session: DbSession,
    settings: AppSettings,
) -> PromotionRead:
    """Change the fields you send of a platform-funded promotion; the others stay, and so
    does its kind. A shop-funded one is its shop's to change (403
    `shop_promotion_read_only`; an admin may end it). An ended promotion does not change
    (409 `invalid_transition`). Audited, with the fields changed."""
    return views.promotion_read(
        await service.update_platform(session, settings, admin, promotion, body)
    )


@admin_router.post(
    "/{promotion_id}/end",
    response_model=PromotionRead,
    responses=error_responses(PromotionNotFound, InvalidTransition),
    summary="End any promotion now",
)
async def end_any_promotion(
    admin: AdminPrincipal,
    promotion: AdminPromotion,
    session: DbSession,
    body: PromotionEnd = PromotionEnd(),
) -> PromotionRead:
    """End a promotion now, the platform's or a shop's (one that breaks the rules, say):
    no checkout gets it from now on; orders keep the discount they were given. Audited,
    with the reason given. Already ended: 409 `invalid_transition`."""
    return views.promotion_read(await service.end_as_admin(session, admin, promotion, body.reason))


ROUTERS: tuple[APIRouter, ...] = (seller_router, admin_router)
"""Every router of the package, in the order `app.api` includes them."""
