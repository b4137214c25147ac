"""Listing use cases: drafting, publishing through moderation, stock-driven states, images,
reports, search and the storefront."""

import asyncio
import dataclasses
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, case, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.auth.principal import Principal
from app.catalog import category_service, images, views
from app.catalog.category_tree import CategoryTreeCache, CategoryTreeSnapshot
from app.catalog.events import ListingEventType, ListingReportEventType
from app.catalog.exceptions import (
    AlreadyReported,
    CannotBuyOwnListing,
    ImageTooLarge,
    InsufficientStock,
    ListingNotEditable,
    ListingNotFound,
    ListingUnavailable,
    ReportNotOpen,
    TooManyImages,
    UnsupportedImageType,
)
from app.catalog.models import (
    Condition,
    Listing,
    ListingImage,
    ListingReport,
    ListingStatus,
    ReportStatus,
)
from app.catalog.repository import (
    ListingRepository,
    ReportRepository,
    SearchFilters,
    search_terms,
)
from app.catalog.schemas import (
    PRICE_BANDS,
    SEARCH_COUNT_CAP,
    CategoryNode,
    ImageUpdate,
    ListingCreate,
    ListingSearchPage,
    ListingUpdate,
    ReportCreate,
    ReportDismissal,
    SearchFacets,
    SearchSort,
)
from app.catalog.state import LISTING_LIFECYCLE, ListingAction, ListingActor
from app.config import ModerationMode, Settings
from app.core import outbox
from app.core.audit import record_audit
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.etag import if_match_holds, require_if_match
from app.core.guards import Guarded
from app.core.ids import uuid7
from app.core.money import require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.core.storage import MediaStorage, sniff_image_type
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile, SellerStatus
from app.shipping import profiles as shipping_profiles

_SELLER = {ListingActor.seller}
_ADMIN = {ListingActor.admin}
_SYSTEM = {ListingActor.system}
# Fields whose change must pass moderation again on a live listing.
_CONTENT_FIELDS = {"title", "description", "attributes", "category_id"}
_FINAL = (ListingStatus.archived, ListingStatus.removed)
_NEVER_PUBLIC = (ListingStatus.draft, ListingStatus.pending_review, ListingStatus.rejected)
_LIVE_STATES = (ListingStatus.active, ListingStatus.paused, ListingStatus.sold_out)


# --- who sees what -------------------------------------------------------------------------


def roles_of(listing: Listing, principal: Principal | None) -> frozenset[ListingActor]:
    """The caller's roles on a listing: its shop's seller, an admin (never by API key)."""
    if principal is None:
        return frozenset()
    roles: set[ListingActor] = set()
    if listing.seller_id == principal.shop_id:
        roles.add(ListingActor.seller)
    if principal.is_admin:
        roles.add(ListingActor.admin)
    return frozenset(roles)


def _guarded(listing: Listing, principal: Principal | None) -> Guarded[Listing, ListingActor]:
    return Guarded(listing, roles_of(listing, principal))


async def _detailed(session: AsyncSession, listing_id: uuid.UUID) -> Listing:
    listing = await ListingRepository(session).get_detailed(listing_id)
    if listing is None:
        raise ListingNotFound()
    return listing


def _is_public(listing: Listing) -> bool:
    return listing.status is ListingStatus.active and listing.seller_approved


async def get_visible(
    session: AsyncSession, principal: Principal | None, listing_id: uuid.UUID
) -> Guarded[Listing, ListingActor]:
    """A listing the caller may see as live: live ones for everybody, any of their own
    shop's, any for admins. Anything else is indistinguishable from a listing that does not
    exist (the query decides)."""
    listings = ListingRepository(session)
    listing = await listings.get_detailed(listing_id, within=listings.visible_to(principal))
    if listing is None:
        raise ListingNotFound()
    return _guarded(listing, principal)


async def get_readable(
    session: AsyncSession, principal: Principal | None, listing_id: uuid.UUID
) -> Row[Any]:
    """A listing's page (see ListingRepository.get_page): every listing that has been
    public, for everybody, also once it stops being for sale (sold out, paused, archived,
    removed, its shop suspended or closed), so that links from orders and conversations keep
    working; any of the caller's own shop's, any for admins (a preview). A draft, or one
    waiting for or refused by moderation, is to anybody else indistinguishable from a
    listing that does not exist."""
    page = await ListingRepository(session).get_page(listing_id, principal)
    if page is None:
        raise ListingNotFound()
    return page


async def get_for_admin(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> Guarded[Listing, ListingActor]:
    """Any listing, as an admin sees it."""
    return _guarded(await _detailed(session, listing_id), principal)


async def get_own(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, *, lock: bool
) -> Guarded[Listing, ListingActor]:
    """A listing of the caller's shop (another shop's is a 404, decided by the query); `lock`
    holds its row for the rest of the transaction."""
    listings = ListingRepository(session)
    listing = await listings.get_detailed(listing_id, within=listings.of_shop(principal), lock=lock)
    if listing is None:
        raise ListingNotFound()
    return _guarded(listing, principal)


async def _reloaded(
    session: AsyncSession, listing: Guarded[Listing, ListingActor]
) -> Guarded[Listing, ListingActor]:
    """The listing as a change left it (its images too), for the same caller."""
    return Guarded(await _detailed(session, listing.subject.id), listing.roles)


# --- moderation -------------------------------------------------------------------------------


def prohibited_term(settings: Settings, texts: Iterable[str]) -> str | None:
    """The first configured prohibited term found as a whole word, if any."""
    haystack = " ".join(texts).lower()
    for term in settings.prohibited_terms:
        if re.search(rf"\b{re.escape(term.lower())}\b", haystack):
            return term
    return None


def _apply(listing: Listing, action: ListingAction, actors: set[ListingActor]) -> ListingStatus:
    before = listing.status
    listing.status = LISTING_LIFECYCLE.target(listing.status, action, actors, listing)
    if before is ListingStatus.pending_review:
        listing.held_while_paused = False
        if listing.status is ListingStatus.active or (
            listing.published_at is None and listing.status in _LIVE_STATES
        ):
            listing.published_at = now()  # newly (re)approved: it is news again
    return before


def _moderate(settings: Settings, listing: Listing) -> None:
    """A listing in `pending_review` goes live at once in `auto` mode unless it trips the
    prohibited-terms list; otherwise it waits for an admin."""
    texts = [listing.title, listing.description, *map(str, listing.attributes.values())]
    if settings.listing_moderation is ModerationMode.required:
        listing.status_reason = "waiting for a moderator"
    elif prohibited_term(settings, texts) is not None:
        # The term itself is not echoed: it would teach evasion more than it helps.
        listing.status_reason = "held for manual review by moderation"
    else:
        listing.status_reason = None
        _apply(listing, ListingAction.approve, _SYSTEM)


def _follow_stock(listing: Listing) -> None:
    """Quantity drives active ⇄ sold_out."""
    if listing.status is ListingStatus.active and listing.quantity == 0:
        _apply(listing, ListingAction.sell_out, _SYSTEM)
    elif listing.status is ListingStatus.sold_out and listing.quantity > 0:
        _apply(listing, ListingAction.restock, _SYSTEM)


# --- seller use cases -------------------------------------------------------------------------


async def create(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    seller: SellerProfile,
    data: ListingCreate,
) -> Guarded[Listing, ListingActor]:
    """A draft listing of the caller's shop (`seller`, approved)."""
    await category_service.require_leaf(session, data.category_id)
    if data.shipping_profile_id is not None:
        await shipping_profiles.require_assignable(
            session,
            seller_id=seller.id,
            profile_id=data.shipping_profile_id,
            currency=settings.currency,
        )
    listing = Listing(
        id=uuid7(),
        seller_id=seller.id,
        category_id=data.category_id,
        title=data.title,
        description=data.description,
        price_amount=require_currency(data.price, settings.currency),
        currency=settings.currency,
        shipping_fee_amount=(
            require_currency(data.shipping_fee, settings.currency) if data.shipping_fee else 0
        ),
        shipping_profile_id=data.shipping_profile_id,
        quantity=data.quantity,
        condition=data.condition,
        attributes=data.attributes,
        handling_days=data.handling_days,
        low_stock_threshold=data.low_stock_threshold,
        accepts_offers=data.accepts_offers,
        offer_floor_amount=(
            require_currency(data.offer_floor, settings.currency) if data.offer_floor else None
        ),
        status=ListingStatus.draft,
        seller_approved=True,
    )
    _require_floor_below_price(listing)
    await ListingRepository(session).add(listing)
    return _guarded(await _detailed(session, listing.id), principal)


async def update(
    session: AsyncSession,
    settings: Settings,
    guarded: Guarded[Listing, ListingActor],
    data: ListingUpdate,
    *,
    if_match: str | None,
    storage: MediaStorage,
) -> Guarded[Listing, ListingActor]:
    """Apply a seller's edit to their locked listing. With `if_match`, only to the listing
    as the caller last read it (412 otherwise): the tag is compared under the row lock the
    edit holds, so of two editors with the same tag the second sees the first's committed
    edit."""
    listing = guarded.subject
    _require_unchanged(settings, guarded, storage, if_match)
    if listing.status in _FINAL:
        raise ListingNotEditable()
    changes = data.model_dump(exclude_unset=True)
    if data.category_id is not None:
        await category_service.require_leaf(session, data.category_id)
    if data.price is not None:
        listing.price_amount = require_currency(data.price, settings.currency)
    if data.shipping_fee is not None:
        listing.shipping_fee_amount = require_currency(data.shipping_fee, settings.currency)
    if "offer_floor" in changes:
        floor = data.offer_floor
        listing.offer_floor_amount = require_currency(floor, settings.currency) if floor else None
    if data.accepts_offers is not None:
        listing.accepts_offers = data.accepts_offers
    _require_floor_below_price(listing)
    if data.shipping_profile_id is not None:
        await shipping_profiles.require_assignable(
            session,
            seller_id=listing.seller_id,
            profile_id=data.shipping_profile_id,
            currency=listing.currency,
        )
    for field in (
        "title",
        "description",
        "quantity",
        "condition",
        "category_id",
        "attributes",
        "handling_days",
        "low_stock_threshold",
        "shipping_profile_id",
    ):
        if field in changes:
            setattr(listing, field, changes[field])
    live = (ListingStatus.active, ListingStatus.paused, ListingStatus.sold_out)
    content_changed = bool(_CONTENT_FIELDS & changes.keys())
    if listing.status in live and content_changed:
        texts = [listing.title, listing.description, *map(str, listing.attributes.values())]
        if (
            settings.listing_moderation is ModerationMode.required
            or prohibited_term(settings, texts) is not None
        ):
            listing.held_while_paused = listing.status is ListingStatus.paused
            _apply(listing, ListingAction.resubmit, _SYSTEM)
            _moderate(settings, listing)
    _follow_stock(listing)
    await session.flush()
    return await _reloaded(session, guarded)


def _require_floor_below_price(listing: Listing) -> None:
    """An offer floor at or above the price would decline every offer: refused (422)."""
    floor = listing.offer_floor_amount
    if floor is not None and floor >= listing.price_amount:
        raise ValidationFailed(["body", "offer_floor"], "must be below the price")


def _require_unchanged(
    settings: Settings,
    guarded: Guarded[Listing, ListingActor],
    storage: MediaStorage,
    if_match: str | None,
) -> None:
    """412 unless `if_match` is the tag of the listing as it is now, in either view its
    seller reads: their own (`GET /v1/sellers/me/listings/{id}`) or the public page
    (`GET /v1/listings/{id}`). Both tags cover every stored column, so either is stale after
    any change."""
    if if_match is None:
        return
    _, public = views.tagged_public(settings, guarded.subject, storage)
    if if_match_holds(if_match, public):
        current = public
    else:
        current = views.tagged_read(settings, guarded, storage)[1]
    require_if_match(if_match, current)


async def act(
    session: AsyncSession,
    settings: Settings,
    guarded: Guarded[Listing, ListingActor],
    action: ListingAction,
) -> Guarded[Listing, ListingActor]:
    """publish / pause / resume / archive by the seller, on their locked listing; the table
    decides what is legal."""
    listing = guarded.subject
    _apply(listing, action, _SELLER)
    if listing.status is ListingStatus.pending_review:
        _moderate(settings, listing)
    await session.flush()
    return await _reloaded(session, guarded)


@dataclasses.dataclass(frozen=True, slots=True)
class SellerListings:
    rows: list[Guarded[Listing, ListingActor]]
    next_cursor: str | None
    counts: dict[ListingStatus, int]
    """Per state, over the title filter (not the state filter): the tabs of the screen."""


async def seller_listings(
    session: AsyncSession,
    principal: Principal,
    seller: SellerProfile,
    status: ListingStatus | None,
    page: PageParams,
    *,
    title: str | None = None,
) -> SellerListings:
    """The caller's shop's listings in every state (`seller`: their profile), newest first,
    with how many there are in each state."""
    listings = ListingRepository(session)
    statement = listings.with_details(listings.of_seller(seller.id, status, title))
    rows, next_cursor = await paginate(
        session, statement, keys=[SortKey(Listing.id, descending=True)], page=page
    )
    return SellerListings(
        rows=[_guarded(listing, principal) for listing in rows],
        next_cursor=next_cursor,
        counts=await listings.count_by_status(seller.id, title),
    )


_MAX_SNIFF = 16


async def add_image(
    session: AsyncSession,
    settings: Settings,
    storage: MediaStorage,
    guarded: Guarded[Listing, ListingActor],
    data: bytes,
    *,
    alt_text: str,
) -> Guarded[Listing, ListingActor]:
    """An image added (last) to the seller's locked listing: the upload as it came, and its
    derived sizes (see app.catalog.images)."""
    listing = guarded.subject
    if listing.status in _FINAL:
        raise ListingNotEditable()
    if len(data) > settings.max_image_bytes:
        raise ImageTooLarge(f"images may be at most {settings.max_image_bytes} bytes")
    kind = sniff_image_type(data[:_MAX_SNIFF])
    if kind is None:
        raise UnsupportedImageType("the file is not a JPEG, PNG or WebP image")
    if len(listing.images) >= settings.max_images_per_listing:
        raise TooManyImages(f"a listing has at most {settings.max_images_per_listing} images")
    content_type, extension = kind
    try:
        processed = await asyncio.to_thread(
            images.process, data, content_type, max_pixels=settings.max_image_pixels
        )
    except images.ImageTooManyPixels:
        raise ImageTooLarge(f"images may have at most {settings.max_image_pixels} pixels") from None
    except images.ImageRejected:
        raise UnsupportedImageType(f"the file is not a readable {content_type} image") from None
    image_id = uuid7()
    prefix = f"listings/{listing.id}/{image_id}"
    key = f"{prefix}.{extension}"
    derived_keys = {d.name: f"{prefix}-{d.name}.{extension}" for d in processed.derived}
    # Written before the row: a rollback leaves orphan files (harmless), never a row
    # pointing at nothing.
    await storage.save(key, data)
    for derived in processed.derived:
        await storage.save(derived_keys[derived.name], derived.data)
    listing.images.append(
        ListingImage(
            id=image_id,
            storage_key=key,
            content_type=content_type,
            size_bytes=len(data),
            position=max((i.position for i in listing.images), default=-1) + 1,
            alt_text=alt_text,
            width=processed.width,
            height=processed.height,
            thumbnail_key=derived_keys["thumbnail"],
            medium_key=derived_keys["medium"],
        )
    )
    await session.flush()
    return await _reloaded(session, guarded)


def _image_of(listing: Listing, image_id: uuid.UUID) -> ListingImage:
    image = next((i for i in listing.images if i.id == image_id), None)
    if image is None:
        raise ListingNotFound("no such image on this listing")
    return image


async def update_image(
    session: AsyncSession,
    settings: Settings,
    storage: MediaStorage,
    guarded: Guarded[Listing, ListingActor],
    image_id: uuid.UUID,
    data: ImageUpdate,
    *,
    if_match: str | None,
) -> Guarded[Listing, ListingActor]:
    """An image of the seller's locked listing described (alt text) or moved in the display
    order (the others keep theirs around it); with `if_match`, only to the listing as last
    read (412 otherwise)."""
    listing = guarded.subject
    _require_unchanged(settings, guarded, storage, if_match)
    if listing.status in _FINAL:
        raise ListingNotEditable()
    image = _image_of(listing, image_id)
    if data.alt_text is not None:
        image.alt_text = data.alt_text
    if data.position is not None:
        ordered = sorted(listing.images, key=lambda i: (i.position, i.id))
        ordered.remove(image)
        ordered.insert(min(data.position, len(ordered)), image)
        for position, each in enumerate(ordered):
            each.position = position
    await session.flush()
    return await _reloaded(session, guarded)


async def delete_image(
    session: AsyncSession,
    storage: MediaStorage,
    guarded: Guarded[Listing, ListingActor],
    image_id: uuid.UUID,
) -> None:
    """An image removed from the seller's locked listing, and then its files."""
    listing = guarded.subject
    image = _image_of(listing, image_id)
    listing.images.remove(image)
    await session.flush()
    for key in (image.storage_key, image.thumbnail_key, image.medium_key):
        if key is not None:
            await storage.delete(key)


# --- everyone ---------------------------------------------------------------------------------


async def report(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, data: ReportCreate
) -> ListingReport:
    """A report of a listing the caller may see (once per caller and listing). The listing
    is not locked: the report is a row of its own, and its count an atomic increment."""
    await get_visible(session, principal, listing_id)
    entry = ListingReport(
        listing_id=listing_id,
        reporter_id=principal.user_id,
        reason=data.reason,
        details=data.details,
    )
    await ReportRepository(session).save_unique(entry, AlreadyReported())
    await ListingRepository(session).count_report(listing_id)
    return entry


async def search(
    session: AsyncSession,
    *,
    q: str | None,
    category: str | None,
    min_price: int | None,
    max_price: int | None,
    conditions: list[Condition],
    seller_id: uuid.UUID | None,
    sort: SearchSort | None,
    page: PageParams,
    facets: bool,
    storage: MediaStorage,
    category_tree: CategoryTreeCache,
    currency: str,
) -> ListingSearchPage:
    """A page of live listings as the public sees them: one query (the listings with their
    shops and images; a category's subtree comes from memory), read as plain rows, not ORM
    objects (a page is built on every search; they cost more than the query). The first
    page adds one capped count; `facets` three capped counts more."""
    tree = await category_tree.get(session)
    category_ids = None
    if category is not None:
        category_ids = tree.subtree_ids(category)
        if not category_ids:  # an unknown category
            empty = SearchFacets(categories=[], conditions=[], price_bands=[], capped=False)
            return views.search_page(
                [], None, storage, total=0, total_capped=False, facets=empty if facets else None
            )
    effective_sort = sort or (SearchSort.relevance if q else SearchSort.newest)
    listings = ListingRepository(session)
    filters = SearchFilters(
        q=q,
        category_ids=category_ids,
        min_price=min_price,
        max_price=max_price,
        conditions=conditions,
        seller_id=seller_id,
    )
    statement, keys = listings.search(filters, effective_sort)
    rows, cursor = await paginate(
        session, statement, keys=keys, page=page, tag=effective_sort.value
    )
    total: int | None = None
    if page.cursor is None:
        counted = await session.scalar(
            listings.count_matches(filters, effective_sort, SEARCH_COUNT_CAP)
        )
        total = int(counted or 0)
    found_facets = None
    if facets:
        found_facets = await _facets(
            listings, filters, effective_sort, tree, category, currency=currency
        )
    return views.search_page(
        rows,
        cursor,
        storage,
        total=min(total, SEARCH_COUNT_CAP) if total is not None else None,
        total_capped=total is not None and total > SEARCH_COUNT_CAP,
        facets=found_facets,
    )


async def _facets(
    listings: ListingRepository,
    filters: SearchFilters,
    sort: SearchSort,
    tree: CategoryTreeSnapshot,
    category: str | None,
    *,
    currency: str,
) -> SearchFacets:
    """Each facet over the filters but its own, each counted over at most SEARCH_COUNT_CAP
    (+1) matches."""
    session = listings.session
    capped = False

    async def counts(key: ColumnElement[Any], facet_filters: SearchFilters) -> dict[Any, int]:
        nonlocal capped
        statement = listings.facet_counts(key, facet_filters, sort, SEARCH_COUNT_CAP)
        found = {row[0]: int(row[1]) for row in (await session.execute(statement)).all()}
        capped = capped or sum(found.values()) > SEARCH_COUNT_CAP
        return found

    # Categories: per child of the category filtered on (or per root), each counting its
    # whole subtree; a listing in the filtered category itself counts in no child.
    parent = tree.node(category) if category is not None else None
    children = parent.children if parent is not None else tree.roots
    child_of: dict[uuid.UUID, CategoryNode] = {}
    for child in children:
        for member in tree.subtree_ids(str(child.id)):
            child_of[member] = child
    per_category = await counts(Listing.__table__.c.category_id, filters)
    per_child: dict[uuid.UUID, int] = {}
    for category_id, count in per_category.items():
        owner = child_of.get(uuid.UUID(str(category_id)))
        if owner is not None:
            per_child[owner.id] = per_child.get(owner.id, 0) + count
    per_condition = await counts(
        Listing.__table__.c.condition, dataclasses.replace(filters, conditions=())
    )
    per_band = await counts(
        price_band_of(Listing.__table__.c.price_amount),
        dataclasses.replace(filters, min_price=None, max_price=None),
    )

    def money(amount: int | None) -> dict[str, Any] | None:
        return None if amount is None else {"amount": amount, "currency": currency}

    return SearchFacets.model_validate(
        {
            "categories": [
                {"id": c.id, "name": c.name, "slug": c.slug, "count": per_child[c.id]}
                for c in children
                if per_child.get(c.id)
            ],
            "conditions": [
                {"condition": c, "count": per_condition[c.value]}
                for c in Condition
                if per_condition.get(c.value)
            ],
            "price_bands": [
                {
                    "key": key,
                    "min_price": money(low),
                    "max_price": money(high),
                    "count": per_band[key],
                }
                for key, low, high in PRICE_BANDS
                if per_band.get(key)
            ],
            "capped": capped,
        }
    )


def price_band_of(price: ColumnElement[Any]) -> ColumnElement[Any]:
    """The PRICE_BANDS key of a price (minor units)."""
    return case(
        *[(price <= high, literal(key)) for key, _low, high in PRICE_BANDS if high is not None],
        else_=literal(PRICE_BANDS[-1][0]),
    )


async def live_listing_count(session: AsyncSession, seller_id: uuid.UUID) -> int:
    return await ListingRepository(session).count_live_of_seller(seller_id)


# --- for watchlists (favourites, saved searches) ------------------------------------------


async def get_watchable(session: AsyncSession, listing_id: uuid.UUID) -> Listing:
    """A listing one may favourite: for sale now, or sold out (to hear when it is back), of
    an approved shop; anything else is a 404, as if it did not exist."""
    listings = ListingRepository(session)
    scope = select(Listing).where(
        Listing.status.in_((ListingStatus.active, ListingStatus.sold_out)),
        Listing.seller_approved,
    )
    listing = await listings.get_detailed(listing_id, within=scope)
    if listing is None:
        raise ListingNotFound()
    return listing


async def adjust_favourite_count(session: AsyncSession, listing_id: uuid.UUID, delta: int) -> None:
    """The listing's favourite count moved by `delta`, in one atomic UPDATE."""
    await ListingRepository(session).adjust_favourite_count(listing_id, delta)


async def adjust_favourite_counts(session: AsyncSession, deltas: Mapping[uuid.UUID, int]) -> None:
    """Listings' favourite counts moved, each by its delta: one atomic UPDATE per distinct
    delta (one in all when each listing moves by the same)."""
    by_delta: dict[int, list[uuid.UUID]] = {}
    for listing_id, delta in deltas.items():
        if delta:
            by_delta.setdefault(delta, []).append(listing_id)
    for delta, listing_ids in sorted(by_delta.items()):
        await ListingRepository(session).adjust_favourite_counts(sorted(listing_ids), delta)


def query_terms(query: str) -> list[str]:
    """The words a free-text query searches for, as `GET /v1/listings?q=` reads them (lower
    case, letters and digits only)."""
    return search_terms(query)


async def favourited_changed(
    session: AsyncSession, after: tuple[datetime, uuid.UUID], until: datetime, limit: int
) -> list[Row[Any]]:
    """See ListingRepository.favourited_changed."""
    return await ListingRepository(session).favourited_changed(after, until, limit)


async def published_after(
    session: AsyncSession, after: tuple[datetime, uuid.UUID], until: datetime, limit: int
) -> list[Row[Any]]:
    """See ListingRepository.published_after."""
    return await ListingRepository(session).published_after(after, until, limit)


# --- stock (for orders) ---------------------------------------------------------------------


async def many(session: AsyncSession, listing_ids: list[uuid.UUID]) -> dict[uuid.UUID, Listing]:
    """Listings by id with their seller (any state: a cart shows what became unavailable)."""
    listings = ListingRepository(session)
    statement = listings.with_details(select(Listing).where(Listing.id.in_(listing_ids)))
    return {listing.id: listing for listing in (await session.scalars(statement)).unique()}


async def purchasable(session: AsyncSession, listing_id: uuid.UUID, buyer: User) -> Listing:
    """A listing the buyer may put in a cart or buy: live, and not their own."""
    listing = await _detailed(session, listing_id)
    _refuse_unless_purchasable(listing, own=listing.seller.user_id == buyer.id)
    return listing


def _refuse_unless_purchasable(listing: Listing, *, own: bool) -> None:
    if not _is_public(listing):
        # A listing that was never public stays invisible to others (404); one that was
        # (sold out, paused, taken down, its shop suspended) is simply not for sale (409).
        if not own and listing.status in _NEVER_PUBLIC:
            raise ListingNotFound()
        raise ListingUnavailable(f"'{listing.title}' is not for sale now")
    if own:
        raise CannotBuyOwnListing()


async def take_stock(
    session: AsyncSession, principal: Principal, wanted: Mapping[uuid.UUID, int]
) -> list[Listing]:
    """Reserve `wanted` units of each listing for the caller's purchase (see `_take_stock`)."""
    return await _take_stock(session, wanted, buyer_shop_id=principal.shop_id)


async def reserve_for_offer(
    session: AsyncSession,
    listing_id: uuid.UUID,
    quantity: int,
    *,
    buyer_shop_id: uuid.UUID | None,
) -> Listing:
    """Reserve `quantity` units of a live listing for an accepted offer of the buyer whose
    shop (if any) is `buyer_shop_id`, as a checkout takes them (see `_take_stock`); whoever
    accepts, buyer or seller. The checkout of the offer finds them with `lock_reserved`."""
    (listing,) = await _take_stock(session, {listing_id: quantity}, buyer_shop_id=buyer_shop_id)
    return listing


async def _take_stock(
    session: AsyncSession, wanted: Mapping[uuid.UUID, int], *, buyer_shop_id: uuid.UUID | None
) -> list[Listing]:
    """Reserve `wanted` units of each listing for a purchase, all or none: each
    must be live, not the caller's own, and have the stock. The listings (in id order) are
    read once and row-locked in id order, so two checkouts of the same listings never
    deadlock and none can sell what another took; their new stock is written in one
    statement. A listing that reaches zero sells out; one that crosses its low-stock
    threshold is announced."""
    listings = await ListingRepository(session).lock_many(sorted(wanted))
    found = {listing.id: listing for listing in listings}
    for listing_id in sorted(wanted):
        listing = found.get(listing_id)
        if listing is None:
            raise ListingNotFound()
        _refuse_unless_purchasable(listing, own=listing.seller_id == buyer_shop_id)
        if wanted[listing_id] > listing.quantity:
            raise InsufficientStock(
                f"only {listing.quantity} of '{listing.title}' left",
                extra={"listing_id": str(listing_id)},
            )
    low_stock: list[outbox.Emission] = []
    for listing in listings:
        listing.quantity -= wanted[listing.id]
        _follow_stock(listing)
        threshold = listing.low_stock_threshold
        if (
            threshold is not None
            and listing.quantity <= threshold < listing.quantity + wanted[listing.id]
        ):
            low_stock.append(
                outbox.Emission(
                    ListingEventType.low_stock,
                    listing.seller_id,
                    {
                        "listing_id": listing.id,
                        "seller_id": listing.seller_id,
                        "title": listing.title,
                        "quantity": listing.quantity,
                        "low_stock_threshold": threshold,
                    },
                )
            )
    await session.flush()
    await outbox.emit_all(session, low_stock)
    return listings


async def lock_reserved(session: AsyncSession, listing_ids: list[uuid.UUID]) -> list[Listing]:
    """Listings whose stock the caller reserved earlier (an accepted offer), row-locked in
    id order like `take_stock` locks them, their stock left as it is, whatever their state:
    whether they must still be for sale is the caller's decision (an offer's checkout wants
    them active or sold out, by an approved shop)."""
    listings = await ListingRepository(session).lock_many(sorted(listing_ids))
    if len(listings) != len(set(listing_ids)):
        raise ListingNotFound()
    return listings


async def release_stock(session: AsyncSession, listing_id: uuid.UUID, quantity: int) -> None:
    """Give reserved units back (an unpaid or cancelled order); a sold-out listing restocks."""
    await ListingRepository(session).return_stock(listing_id, quantity)
    listing = await _detailed(session, listing_id)
    _follow_stock(listing)
    await session.flush()


# --- admin ------------------------------------------------------------------------------------


async def moderation_queue(
    session: AsyncSession,
    principal: Principal,
    *,
    status: ListingStatus | None,
    reported: bool,
    page: PageParams,
) -> tuple[list[Guarded[Listing, ListingActor]], str | None]:
    """Reported listings most-reported first; otherwise oldest first (a review queue)."""
    listings = ListingRepository(session)
    statement = listings.with_details(listings.moderation_queue(status=status, reported=reported))
    keys = (
        [SortKey(Listing.report_count, descending=True), SortKey(Listing.id, descending=True)]
        if reported
        else [SortKey(Listing.id)]
    )
    rows, next_cursor = await paginate(
        session, statement, keys=keys, page=page, tag="reported" if reported else "queue"
    )
    return [_guarded(listing, principal) for listing in rows], next_cursor


async def moderate(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    action: ListingAction,
    reason: str | None,
) -> Guarded[Listing, ListingActor]:
    """approve / reject / remove by an admin, audited."""
    listing = await ListingRepository(session).get_detailed(listing_id, lock=True)
    if listing is None:
        raise ListingNotFound()
    before = _apply(listing, action, _ADMIN)
    listing.status_reason = reason
    await record_audit(
        session,
        actor_id=principal.user_id,
        action=f"listing.{action.value}",
        target_type="listing",
        target_id=listing.id,
        reason=reason,
        details={"from": before.value, "to": listing.status.value},
    )
    event = LISTING_LIFECYCLE.event_of(before, action, listing.status)
    if event is not None:
        await outbox.emit(
            session,
            event,
            seller_id=listing.seller_id,
            data={
                "listing_id": listing.id,
                "seller_id": listing.seller_id,
                "title": listing.title,
                "status": listing.status,
                "reason": reason,
            },
        )
    if listing.status is ListingStatus.removed:
        await _decide_reports(session, principal, listing, None, ReportStatus.upheld, reason)
    return _guarded(await _detailed(session, listing.id), principal)


async def reports_of(
    session: AsyncSession, listing_id: uuid.UUID, page: PageParams
) -> tuple[list[ListingReport], str | None]:
    await _detailed(session, listing_id)
    statement = ReportRepository(session).of_listing(listing_id)
    return await paginate(session, statement, keys=[SortKey(ListingReport.id)], page=page)


async def dismiss_reports(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, data: ReportDismissal
) -> Guarded[Listing, ListingActor]:
    """An admin leaves a reported listing up: its open reports (or the given ones) are
    dismissed, stop counting in the reported queue, and each reporter is told. Audited."""
    listing = await ListingRepository(session).get_detailed(listing_id, lock=True)
    if listing is None:
        raise ListingNotFound()
    await _decide_reports(
        session, principal, listing, data.report_ids, ReportStatus.dismissed, data.reason
    )
    return _guarded(await _detailed(session, listing.id), principal)


_REPORT_OUTCOME_EVENT = {
    ReportStatus.dismissed: ListingReportEventType.dismissed,
    ReportStatus.upheld: ListingReportEventType.upheld,
}


async def _decide_reports(
    session: AsyncSession,
    principal: Principal,
    listing: Listing,
    report_ids: list[uuid.UUID] | None,
    outcome: ReportStatus,
    reason: str | None,
) -> None:
    """Close the listing's open reports (`report_ids`: only those, each of which must be
    open) with `outcome`, under the listing's row lock, and tell each reporter."""
    reports = ReportRepository(session)
    found = await reports.open_of_listing(listing.id, report_ids)
    if outcome is ReportStatus.dismissed and (
        not found or (report_ids is not None and len(found) != len(set(report_ids)))
    ):
        raise ReportNotOpen("dismiss only open reports of this listing")
    at = now()
    for report in found:
        report.status = outcome
        report.resolved_at = at
        report.resolved_by_id = principal.user_id
        report.resolution_reason = reason
    await session.flush()
    if outcome is ReportStatus.dismissed:
        await reports.uncount(listing.id, len(found))
        await record_audit(
            session,
            actor_id=principal.user_id,
            action="listing.reports_dismissed",
            target_type="listing",
            target_id=listing.id,
            reason=reason,
            details={"report_ids": [str(r.id) for r in found]},
        )
    for report in found:
        # No shop named: the shop never learns who reported it, and no webhook hears it.
        await outbox.emit(
            session,
            _REPORT_OUTCOME_EVENT[outcome],
            seller_id=None,
            data={
                "recipient_id": report.reporter_id,
                "report_id": report.id,
                "listing_id": listing.id,
                "title": listing.title,
                "outcome": outcome,
                "reason": reason,
            },
        )


async def withdraw_all_of_seller(session: AsyncSession, seller_id: uuid.UUID) -> None:
    """A closed shop's listings leave the catalog for good: archived (kept for the orders
    that refer to them), and hidden as a suspended seller's are."""
    listings = ListingRepository(session)
    await listings.set_seller_approved(seller_id, False)
    await listings.archive_all_of_seller(seller_id, reason="the shop closed")


async def _follow_seller_decision(session: AsyncSession, seller: SellerProfile) -> None:
    """A seller's suspension hides all their listings from search and purchase at once;
    reinstatement brings them back in the state they were in."""
    approved = seller.status is SellerStatus.approved
    await ListingRepository(session).set_seller_approved(seller.id, approved)


# Whatever can decide about a shop (the API's admin routes, the demo seed) has the catalog
# loaded, so the decision always reaches the shop's listings in its transaction.
seller_service.on_decision(_follow_seller_decision)


async def _release_shipping_profile(session: AsyncSession, profile_id: uuid.UUID) -> int:
    """A shipping profile about to be deleted: archived and removed listings let go of it
    (they will never sell again); how many others, which may still sell, charge by it."""
    return await ListingRepository(session).release_shipping_profile(profile_id, _FINAL)


# Likewise, whatever can delete a shipping profile (its API routes) has the catalog loaded.
shipping_profiles.on_delete(_release_shipping_profile)
