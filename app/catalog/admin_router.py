"""Admin: the category tree and listing moderation."""

import uuid
from functools import partial
from typing import Annotated

from fastapi import Query, Response, status

from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.catalog import category_service, service, views
from app.catalog.dependencies import CategoryTree, Storage
from app.catalog.exceptions import (
    CategoryCycle,
    CategoryHasChildren,
    CategoryHasListings,
    CategoryNotFound,
    CategorySlugTaken,
    ListingNotFound,
    ReportNotOpen,
    UnknownCategory,
)
from app.catalog.models import ListingStatus
from app.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ListingAdminRead,
    ModerationDecision,
    ReportDismissal,
    ReportRead,
)
from app.catalog.state import ListingAction
from app.core.db import DbSession
from app.core.errors import InvalidTransition, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.schemas import Page, QueryBool, page_of

router = admin_api_router()


@router.post(
    "/categories",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryRead,
    responses=error_responses(UnknownCategory, CategorySlugTaken, CategoryHasListings),
)
async def create_category(
    body: CategoryCreate, admin: AdminPrincipal, session: DbSession, tree: CategoryTree
) -> CategoryRead:
    """Add a category (a root, or a child of a category that holds no listings)."""
    return CategoryRead.model_validate(await category_service.create(session, tree, admin, body))


@router.patch(
    "/categories/{category_id}",
    response_model=CategoryRead,
    responses=error_responses(
        CategoryNotFound, UnknownCategory, CategorySlugTaken, CategoryCycle, CategoryHasListings
    ),
)
async def update_category(
    category_id: uuid.UUID,
    body: CategoryUpdate,
    admin: AdminPrincipal,
    session: DbSession,
    tree: CategoryTree,
) -> CategoryRead:
    """Rename, re-slug, reorder or move a category (never under its own subtree)."""
    category = await category_service.update(session, tree, admin, category_id, body)
    return CategoryRead.model_validate(category)


@router.delete(
    "/categories/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(CategoryNotFound, CategoryHasChildren, CategoryHasListings),
)
async def delete_category(
    category_id: uuid.UUID, admin: AdminPrincipal, session: DbSession, tree: CategoryTree
) -> Response:
    """Delete an empty leaf category (one with listings or children is refused with 409)."""
    await category_service.delete(session, tree, admin, category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/listings", response_model=Page[ListingAdminRead], responses=error_responses(InvalidCursor)
)
async def list_listings_for_moderation(
    admin: AdminPrincipal,
    session: DbSession,
    storage: Storage,
    page: PageQuery,
    status: Annotated[ListingStatus | None, Query()] = None,
    reported: Annotated[
        QueryBool, Query(description="`true`: only reported ones, most reported first")
    ] = False,
) -> Page[ListingAdminRead]:
    """The moderation queue: by state (oldest first), or reported listings by report count."""
    rows, next_cursor = await service.moderation_queue(
        session, admin, status=status, reported=reported, page=page
    )
    return page_of(rows, next_cursor, partial(views.to_admin_read, storage=storage))


@router.get(
    "/listings/{listing_id}",
    response_model=ListingAdminRead,
    responses=error_responses(ListingNotFound),
)
async def get_listing_for_moderation(
    listing_id: uuid.UUID, admin: AdminPrincipal, session: DbSession, storage: Storage
) -> ListingAdminRead:
    """Any listing, in any state, as moderators see it: its lifecycle state, the reason of
    the last decision, its report count and what an admin may do now."""
    return views.to_admin_read(await service.get_for_admin(session, admin, listing_id), storage)


@router.get(
    "/listings/{listing_id}/reports",
    response_model=Page[ReportRead],
    responses=error_responses(ListingNotFound, InvalidCursor),
)
async def list_listing_reports(
    listing_id: uuid.UUID, admin: AdminPrincipal, session: DbSession, page: PageQuery
) -> Page[ReportRead]:
    """What users reported about a listing, oldest first."""
    rows, next_cursor = await service.reports_of(session, listing_id, page)
    return page_of(rows, next_cursor, views.report_read)


@router.post(
    "/listings/{listing_id}/reports/dismiss",
    summary="Dismiss reports of a listing",
    response_model=ListingAdminRead,
    responses=error_responses(ListingNotFound, ReportNotOpen),
)
async def dismiss_listing_reports(
    listing_id: uuid.UUID,
    body: ReportDismissal,
    admin: AdminPrincipal,
    session: DbSession,
    storage: Storage,
) -> ListingAdminRead:
    """Leave a reported listing up: every open report of it (or only `report_ids`) is
    dismissed and stops counting in `report_count` (the reported queue); each reporter is
    notified (`listing_report.dismissed`), with your `reason` if given. Audited. None
    open, or one of `report_ids` not an open report of this listing: 409
    `report_not_open`. Removing the listing (`POST .../remove`) upholds its open reports
    instead, and their reporters hear that (`listing_report.upheld`)."""
    listing = await service.dismiss_reports(session, admin, listing_id, body)
    return views.to_admin_read(listing, storage)


def _moderation_route(action: ListingAction, summary: str, *, reason_required: bool) -> None:
    async def moderate(
        listing_id: uuid.UUID,
        body: ModerationDecision,
        admin: AdminPrincipal,
        session: DbSession,
        storage: Storage,
    ) -> ListingAdminRead:
        listing = await service.moderate(session, admin, listing_id, action, body.reason)
        return views.to_admin_read(listing, storage)

    async def moderate_without_reason(
        listing_id: uuid.UUID, admin: AdminPrincipal, session: DbSession, storage: Storage
    ) -> ListingAdminRead:
        listing = await service.moderate(session, admin, listing_id, action, None)
        return views.to_admin_read(listing, storage)

    endpoint = moderate if reason_required else moderate_without_reason
    endpoint.__doc__ = summary
    router.add_api_route(
        f"/listings/{{listing_id}}/{action.value}",
        endpoint,
        methods=["POST"],
        name=f"{action.value}_listing",
        summary=summary.split(".")[0],
        response_model=ListingAdminRead,
        responses=error_responses(ListingNotFound, InvalidTransition),
    )


_moderation_route(
    ListingAction.approve,
    "Approve a listing waiting for review. It goes live.",
    reason_required=False,
)
_moderation_route(
    ListingAction.reject,
    "Reject a listing waiting for review. The seller sees the reason.",
    reason_required=True,
)
_moderation_route(
    ListingAction.remove,
    "Take a listing down for good (audited, with the reason).",
    reason_required=True,
)
