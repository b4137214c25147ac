import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from app.auth.dependencies import AppSettings, CurrentPrincipal, OptionalPrincipal
from app.auth.exceptions import InvalidToken
from app.catalog import service, views
from app.catalog.dependencies import CategoryTree, ListingPageSession, OwnListing, Storage
from app.catalog.exceptions import (
    AlreadyReported,
    CategoryNotLeaf,
    ImageTooLarge,
    ListingNotEditable,
    ListingNotFound,
    TooManyImages,
    UnknownCategory,
    UnsupportedImageType,
)
from app.catalog.models import Condition, ListingStatus
from app.catalog.schemas import (
    SEARCH_COUNT_CAP,
    AltText,
    CategoryNode,
    ImageUpdate,
    ListingCreate,
    ListingPublic,
    ListingRead,
    ListingSearchPage,
    ListingUpdate,
    ReportCreate,
    ReportRead,
    SearchSort,
    SellerListingsPage,
)
from app.catalog.state import ListingAction
from app.core.db import DbSession, ReadSession
from app.core.errors import InvalidTransition, ValidationFailed, error_responses
from app.core.etag import (
    ETAG_HEADER,
    TAGGED_READ,
    TAGGED_WRITE,
    IfMatch,
    IfNoneMatch,
    PreconditionFailed,
    tagged,
    tagged_json,
)
from app.core.money import CurrencyNotSupported, QueryAmount
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX, BINARY, model_response
from app.core.schemas import NO_NUL_PATTERN, QueryBool
from app.sellers.dependencies import ActiveSeller, OwnSellerProfile
from app.sellers.exceptions import SellerRequired, SellerSuspended
from app.shipping.exceptions import ShippingProfileCurrencyMismatch, UnknownShippingProfile

listings_router = APIRouter(prefix=f"{API_PREFIX}/listings", tags=["listings"])
categories_router = APIRouter(prefix=f"{API_PREFIX}/categories", tags=["categories"])
storefront_router = APIRouter(prefix=f"{API_PREFIX}/sellers", tags=["sellers"])

_SELLER_ERRORS = (InvalidToken, SellerRequired, SellerSuspended, ListingNotFound)


@categories_router.get("", response_model=list[CategoryNode])
async def list_categories(session: ReadSession, tree: CategoryTree) -> list[CategoryNode]:
    """The whole category tree in one call; list listings under leaves."""
    return (await tree.get(session)).roots


_SEARCH_COST = (
    "Search live listings (active, from approved sellers). Every filter and sort is served "
    "from an index. The first page (no `cursor`) also counts the matches, up to "
    f"{SEARCH_COUNT_CAP:,} (`total`, `total_capped`): one more indexed query that reads at "
    f"most {SEARCH_COUNT_CAP + 1:,} index entries. `facets=true` adds three such queries "
    "(categories, conditions, price bands), so ask for facets only where a screen shows "
    "them, typically with the first page."
)


@listings_router.get(
    "",
    response_model=ListingSearchPage,
    responses=error_responses(InvalidCursor),
    description=_SEARCH_COST,
)
async def search_listings(
    session: ReadSession,
    storage: Storage,
    settings: AppSettings,
    category_tree: CategoryTree,
    page: PageQuery,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL_PATTERN, description="Words to find (prefixes match)"),
    ] = None,
    category: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=NO_NUL_PATTERN,
            description="Category id or slug; includes sub-categories",
        ),
    ] = None,
    min_price: Annotated[QueryAmount | None, Query(description="Minor units")] = None,
    max_price: Annotated[QueryAmount | None, Query(description="Minor units")] = None,
    condition: Annotated[
        list[Condition] | None,
        # Bounded like every list a client sends: more than one per condition is no use.
        Query(max_length=len(Condition), description="Repeat for several"),
    ] = None,
    seller: Annotated[uuid.UUID | None, Query(description="Seller (shop) id")] = None,
    sort: Annotated[
        SearchSort | None, Query(description="Default: relevance with `q`, else newest")
    ] = None,
    facets: Annotated[
        QueryBool,
        Query(
            description="`true`: add `facets` (counts per category, condition and price band, "
            f"each capped at {SEARCH_COUNT_CAP:,}); three more counting queries"
        ),
    ] = False,
) -> Response:
    """Search live listings."""
    if min_price is not None and max_price is not None and min_price > max_price:
        raise ValidationFailed(["query", "min_price"], "min_price is above max_price")
    found = await service.search(
        session,
        q=q,
        category=category,
        min_price=min_price,
        max_price=max_price,
        conditions=condition or [],
        seller_id=seller,
        sort=sort,
        page=page,
        facets=facets,
        storage=storage,
        category_tree=category_tree,
        currency=settings.currency,
    )
    return model_response(found)


@listings_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ListingRead,
    responses=error_responses(
        InvalidToken,
        SellerRequired,
        SellerSuspended,
        UnknownCategory,
        CategoryNotLeaf,
        CurrencyNotSupported,
        UnknownShippingProfile,
        ShippingProfileCurrencyMismatch,
    ),
)
async def create_listing(
    body: ListingCreate,
    seller: ActiveSeller,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> ListingRead:
    """Create a draft listing; `publish` puts it up for sale."""
    return views.to_read(await service.create(session, settings, principal, seller, body), storage)


@listings_router.get(
    "/{listing_id}",
    response_model=ListingPublic,
    responses={**TAGGED_READ, **error_responses(ListingNotFound)},
)
async def get_listing(
    listing_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: ListingPageSession,
    settings: AppSettings,
    storage: Storage,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A listing's page, as buyers see it. It stays readable when it stops being for sale
    (`for_sale: false`; `status` says why: sold out, paused, archived, removed, its shop
    suspended or closed), so links from orders and conversations keep working; a removed
    listing withholds its description and images. A draft, or a listing waiting for or
    refused by moderation, is 404 except to its seller and admins (who see this page as a
    preview; their own full view is `GET /v1/sellers/me/listings/{id}` and
    `GET /v1/admin/listings/{id}`). The `ETag` header tags it: send it back in
    `If-None-Match` to be told 304 when it has not changed (its seller may also send it in
    `If-Match` to edit only what they read)."""
    page = await service.get_readable(session, principal, listing_id)
    representation, etag = views.public_page(settings, page, storage)
    return tagged_json(etag, representation, if_none_match)


@listings_router.patch(
    "/{listing_id}",
    response_model=ListingRead,
    responses={
        **TAGGED_WRITE,
        **error_responses(
            *_SELLER_ERRORS,
            ListingNotEditable,
            UnknownCategory,
            CategoryNotLeaf,
            CurrencyNotSupported,
            UnknownShippingProfile,
            ShippingProfileCurrencyMismatch,
            PreconditionFailed,
        ),
    },
)
async def update_listing(
    body: ListingUpdate,
    listing: OwnListing,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    response: Response,
    if_match: IfMatch = None,
) -> ListingRead:
    """Edit your listing. Quantity 0 sells it out, a restock brings it back; changing the
    content of a live listing may send it back to moderation. With `If-Match` (the `ETag`
    of your last read) the edit applies only if nobody changed the listing since (412
    `precondition_failed` otherwise, and nothing changes); the answer carries the new
    `ETag` (that of your own view, `GET /v1/sellers/me/listings/{id}`; the tag of the public
    page, `GET /v1/listings/{id}`, is accepted in `If-Match` too)."""
    updated = await service.update(
        session, settings, listing, body, if_match=if_match, storage=storage
    )
    view, etag = views.tagged_read(settings, updated, storage)
    response.headers[ETAG_HEADER] = etag
    return view


def _seller_transition(
    action: ListingAction, summary: str, *, method: str = "POST", path: str | None = None
) -> None:
    """Register one seller transition route (they differ only in the action they apply)."""

    async def transition(
        listing: OwnListing, session: DbSession, settings: AppSettings, storage: Storage
    ) -> ListingRead:
        return views.to_read(await service.act(session, settings, listing, action), storage)

    transition.__doc__ = summary
    listings_router.add_api_route(
        path or f"/{{listing_id}}/{action.value}",
        transition,
        methods=[method],
        name=f"{action.value}_listing",
        summary=summary.split(".")[0],
        response_model=ListingRead,
        responses=error_responses(*_SELLER_ERRORS, InvalidTransition),
    )


_seller_transition(
    ListingAction.archive,
    "Archive your listing. It leaves sale for good; orders keep their snapshot of it.",
    method="DELETE",
    path="/{listing_id}",
)
_seller_transition(
    ListingAction.publish,
    "Publish a draft (or a rejected listing after edits). In `auto` moderation it goes live "
    "at once unless it trips the prohibited-terms list; in `required` mode it waits for an "
    "admin.",
)
_seller_transition(ListingAction.pause, "Pause a live listing. It leaves search until resumed.")
_seller_transition(
    ListingAction.resume, "Resume a paused listing. It is live again (sold out without stock)."
)


@listings_router.post(
    "/{listing_id}/images",
    status_code=status.HTTP_201_CREATED,
    response_model=ListingRead,
    responses=error_responses(
        *_SELLER_ERRORS, ListingNotEditable, ImageTooLarge, UnsupportedImageType, TooManyImages
    ),
)
async def upload_listing_image(
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP", json_schema_extra=BINARY)],
    listing: OwnListing,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    alt_text: Annotated[AltText, Form(description="What the image shows, for screen readers")] = "",
) -> ListingRead:
    """Add an image (shown last). Its type is judged by its content, not its name or
    declared type, and it must decode as that type within `MARKETPLACE_MAX_IMAGE_PIXELS`.
    The answer's `urls` name its sizes: `thumbnail` (at most 320 px), `medium` (at most
    1024 px), both turned upright as its EXIF orientation says and stripped of all metadata,
    and `original`, the file as uploaded."""
    data = await file.read(settings.max_image_bytes + 1)
    return views.to_read(
        await service.add_image(session, settings, storage, listing, data, alt_text=alt_text),
        storage,
    )


@listings_router.patch(
    "/{listing_id}/images/{image_id}",
    response_model=ListingRead,
    responses={
        **TAGGED_WRITE,
        **error_responses(*_SELLER_ERRORS, ListingNotEditable, PreconditionFailed),
    },
)
async def update_listing_image(
    listing_id: uuid.UUID,  # the guard's; declared first so the spec lists the path's ids in order
    image_id: uuid.UUID,
    body: ImageUpdate,
    listing: OwnListing,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    response: Response,
    if_match: IfMatch = None,
) -> ListingRead:
    """Describe an image of your listing (`alt_text`), or move it in the display order
    (`position`: the others keep their order around it). With `If-Match` (the listing's
    `ETag`, as for `PATCH /v1/listings/{id}`) the change applies only if nobody changed the
    listing since (412 otherwise); the answer carries the listing's new `ETag`."""
    updated = await service.update_image(
        session, settings, storage, listing, image_id, body, if_match=if_match
    )
    view, etag = views.tagged_read(settings, updated, storage)
    response.headers[ETAG_HEADER] = etag
    return view


@listings_router.delete(
    "/{listing_id}/images/{image_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*_SELLER_ERRORS),
)
async def delete_listing_image(
    listing_id: uuid.UUID,  # the guard's; declared first so the spec lists the path's ids in order
    image_id: uuid.UUID,
    listing: OwnListing,
    session: DbSession,
    storage: Storage,
) -> Response:
    """Remove an image from your listing."""
    await service.delete_image(session, storage, listing, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@listings_router.post(
    "/{listing_id}/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportRead,
    responses=error_responses(InvalidToken, ListingNotFound, AlreadyReported),
)
async def report_listing(
    listing_id: uuid.UUID, body: ReportCreate, principal: CurrentPrincipal, session: DbSession
) -> ReportRead:
    """Report a listing to the moderators (once per listing)."""
    return views.report_read(await service.report(session, principal, listing_id, body))


@storefront_router.get(
    "/me/listings",
    response_model=SellerListingsPage,
    responses=error_responses(InvalidToken, SellerRequired, InvalidCursor),
)
async def list_my_listings(
    seller: OwnSellerProfile,
    principal: CurrentPrincipal,
    session: DbSession,
    storage: Storage,
    page: PageQuery,
    status: Annotated[ListingStatus | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=NO_NUL_PATTERN,
            description="Only listings whose title contains this (any case)",
        ),
    ] = None,
) -> SellerListingsPage:
    """Your listings in every state (newest first), optionally one state only, with the
    count of each state (the tabs of a listings screen)."""
    found = await service.seller_listings(session, principal, seller, status, page, title=q)
    return views.seller_listings_page(found.rows, found.next_cursor, found.counts, storage)


@storefront_router.get(
    "/me/listings/{listing_id}",
    response_model=ListingRead,
    responses={**TAGGED_READ, **error_responses(InvalidToken, SellerRequired, ListingNotFound)},
)
async def get_my_listing(
    listing_id: uuid.UUID,
    _seller: OwnSellerProfile,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> ListingRead | Response:
    """One of your listings, in any state, as you see it: its lifecycle `status`, your
    shop's state, what only you see and what you may do now. The `ETag` header tags it: send
    it back in `If-Match` to edit only what you read, or in `If-None-Match` to be told 304
    when it has not changed."""
    listing = await service.get_own(session, principal, listing_id, lock=False)
    view, etag = views.tagged_read(settings, listing, storage)
    return tagged(response, etag, view, if_none_match)
