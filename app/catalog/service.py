"""Listing use cases: drafting, publishing through moderation, stock-driven states, images,
reports, search and the storefront."""

import re
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.auth.principal import Principal
from app.catalog import category_service, views
from app.catalog.category_tree import CategoryTreeCache
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
from app.catalog.repository import ListingRepository, ReportRepository, SearchFilters
from app.catalog.schemas import (
    ListingCreate,
    ListingRead,
    ListingUpdate,
    ReportCreate,
    ReportDismissal,
    SearchSort,
)
from app.catalog.state import LISTING_LIFECYCLE, ListingAction, ListingActor
from app.config import ModerationMode, Settings
from app.core import outbox
from app.core.audit import record_audit
from app.core.clock import now
from app.core.etag import require_if_match
from app.core.guards import Guarded
from app.core.ids import uuid7
from app.core.money import require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.core.schemas import Page
from app.core.storage import MediaStorage, sniff_image_type
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile, SellerStatus

_SELLER = {ListingActor.seller}
_ADMIN = {ListingActor.admin}
_SYSTEM = {ListingActor.system}
# Fields whose change must pass moderation again on a live listing.
_CONTENT_FIELDS = {"title", "description", "attributes", "category_id"}
_FINAL = (ListingStatus.archived, ListingStatus.removed)
_NEVER_PUBLIC = (ListingStatus.draft, ListingStatus.pending_review, ListingStatus.rejected)


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
    """A listing the caller may see: live ones for everybody, any of their own shop's, any
    for admins. Anything else is indistinguishable from a listing that does not exist (the
    query decides)."""
    listings = ListingRepository(session)
    listing = await listings.get_detailed(listing_id, within=listings.visible_to(principal))
    if listing is None:
        raise ListingNotFound()
    return _guarded(listing, principal)


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
        if listing.status is ListingStatus.active:
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
        quantity=data.quantity,
        condition=data.condition,
        attributes=data.attributes,
        handling_days=data.handling_days,
        low_stock_threshold=data.low_stock_threshold,
        status=ListingStatus.draft,
        seller_approved=True,
    )
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
    if if_match is not None:
        _, current = views.tagged_read(settings, guarded, storage)
        require_if_match(if_match, current)
    if listing.status in _FINAL:
        raise ListingNotEditable()
    changes = data.model_dump(exclude_unset=True)
    if data.category_id is not None:
        await category_service.require_leaf(session, data.category_id)
    if data.price is not None:
        listing.price_amount = require_currency(data.price, settings.currency)
    if data.shipping_fee is not None:
        listing.shipping_fee_amount = require_currency(data.shipping_fee, settings.currency)
    for field in (
        "title",
        "description",
        "quantity",
        "condition",
        "category_id",
        "attributes",
        "handling_days",
        "low_stock_threshold",
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


async def seller_listings(
    session: AsyncSession,
    principal: Principal,
    seller: SellerProfile,
    status: ListingStatus | None,
    page: PageParams,
) -> tuple[list[Guarded[Listing, ListingActor]], str | None]:
    """The caller's shop's listings in every state (`seller`: their profile), newest first."""
    listings = ListingRepository(session)
    statement = listings.with_details(listings.of_seller(seller.id, status))
    rows, next_cursor = await paginate(
        session, statement, keys=[SortKey(Listing.id, descending=True)], page=page
    )
    return [_guarded(listing, principal) for listing in rows], next_cursor


_MAX_SNIFF = 16


async def add_image(
    session: AsyncSession,
    settings: Settings,
    storage: MediaStorage,
    guarded: Guarded[Listing, ListingActor],
    data: bytes,
) -> Guarded[Listing, ListingActor]:
    """An image added to the seller's locked listing."""
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
    image_id = uuid7()
    key = f"listings/{listing.id}/{image_id}.{extension}"
    # Written before the row: a rollback leaves an orphan file (harmless), never a row
    # pointing at nothing.
    await storage.save(key, data)
    listing.images.append(
        ListingImage(
            id=image_id,
            storage_key=key,
            content_type=content_type,
            size_bytes=len(data),
            position=max((i.position for i in listing.images), default=-1) + 1,
        )
    )
    await session.flush()
    return await _reloaded(session, guarded)


async def delete_image(
    session: AsyncSession,
    storage: MediaStorage,
    guarded: Guarded[Listing, ListingActor],
    image_id: uuid.UUID,
) -> None:
    """An image removed from the seller's locked listing, and then its file."""
    listing = guarded.subject
    image = next((i for i in listing.images if i.id == image_id), None)
    if image is None:
        raise ListingNotFound("no such image on this listing")
    listing.images.remove(image)
    await session.flush()
    await storage.delete(image.storage_key)


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
    storage: MediaStorage,
    category_tree: CategoryTreeCache,
) -> Page[ListingRead]:
    """A page of live listings as the public sees them: one query (the listings with their
    shops and images; a category's subtree comes from memory), read as plain rows, not ORM
    objects (a page is built on every search; they cost more than the query)."""
    category_ids = None
    if category is not None:
        category_ids = (await category_tree.get(session)).subtree_ids(category)
        if not category_ids:
            return views.search_page([], None, storage)  # an unknown category
    effective_sort = sort or (SearchSort.relevance if q else SearchSort.newest)
    listings = ListingRepository(session)
    statement, keys = listings.search(
        SearchFilters(
            q=q,
            category_ids=category_ids,
            min_price=min_price,
            max_price=max_price,
            conditions=conditions,
            seller_id=seller_id,
        ),
        effective_sort,
    )
    rows, cursor = await paginate(
        session, statement, keys=keys, page=page, tag=effective_sort.value
    )
    return views.search_page(rows, cursor, storage)


async def live_listing_count(session: AsyncSession, seller_id: uuid.UUID) -> int:
    return await ListingRepository(session).count_live_of_seller(seller_id)


# --- stock (for orders) ---------------------------------------------------------------------


async def many(session: AsyncSession, listing_ids: list[uuid.UUID]) -> dict[uuid.UUID, Listing]:
    """Listings by id with their seller (any state: a cart shows what became unavailable)."""
    listings = ListingRepository(session)
    statement = listings.with_details(select(Listing).where(Listing.id.in_(listing_ids)))
    return {listing.id: listing for listing in (await session.scalars(statement)).unique()}


async def purchasable(session: AsyncSession, listing_id: uuid.UUID, buyer: User) -> Listing:
    """A listing the buyer may put in a cart or buy: live, and not their own."""
    listing = await _detailed(session, listing_id)
    own = listing.seller.user_id == buyer.id
    if not _is_public(listing):
        # A listing that was never public stays invisible to others (404); one that was
        # (sold out, paused, taken down, its shop suspended) is simply not for sale (409).
        if not own and listing.status in _NEVER_PUBLIC:
            raise ListingNotFound()
        raise ListingUnavailable(f"'{listing.title}' is not for sale now")
    if own:
        raise CannotBuyOwnListing()
    return listing


async def reserve_stock(session: AsyncSession, listing_id: uuid.UUID, quantity: int) -> Listing:
    """Take `quantity` units atomically; the listing sells out when its stock reaches zero."""
    listings = ListingRepository(session)
    if not await listings.take_stock(listing_id, quantity):
        listing = await _detailed(session, listing_id)
        if not _is_public(listing):
            raise ListingUnavailable(f"'{listing.title}' is not for sale any more")
        raise InsufficientStock(
            f"only {listing.quantity} of '{listing.title}' left",
            extra={"listing_id": str(listing_id)},
        )
    listing = await _detailed(session, listing_id)
    _follow_stock(listing)
    await session.flush()
    threshold = listing.low_stock_threshold
    if threshold is not None and listing.quantity <= threshold < listing.quantity + quantity:
        await outbox.emit(
            session,
            ListingEventType.low_stock,
            seller_id=listing.seller_id,
            data={
                "listing_id": listing.id,
                "seller_id": listing.seller_id,
                "title": listing.title,
                "quantity": listing.quantity,
                "low_stock_threshold": threshold,
            },
        )
    return listing


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
