"""Listing use cases: drafting, publishing through moderation, stock-driven states, images,
reports, search and the storefront."""

import re
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.auth.principal import acts_as_admin
from app.catalog import category_service
from app.catalog.category_tree import CategoryTreeCache
from app.catalog.exceptions import (
    AlreadyReported,
    CannotBuyOwnListing,
    ImageTooLarge,
    InsufficientStock,
    ListingNotEditable,
    ListingNotFound,
    ListingUnavailable,
    TooManyImages,
    UnsupportedImageType,
)
from app.catalog.models import (
    Condition,
    Listing,
    ListingImage,
    ListingReport,
    ListingStatus,
)
from app.catalog.repository import (
    CardImage,
    ListingRepository,
    ReportRepository,
    SearchFilters,
)
from app.catalog.schemas import (
    ListingAdminRead,
    ListingCreate,
    ListingRead,
    ListingUpdate,
    ReportCreate,
    SearchSort,
)
from app.catalog.state import LISTING_LIFECYCLE, ListingAction, ListingActor
from app.config import ModerationMode, Settings
from app.core import outbox
from app.core.audit import record_audit
from app.core.clock import now
from app.core.etag import entity_tag, require_if_match
from app.core.ids import uuid7
from app.core.money import require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.core.schemas import Page
from app.core.storage import MediaStorage, sniff_image_type
from app.sellers.models import SellerProfile

_SELLER = {ListingActor.seller}
_ADMIN = {ListingActor.admin}
_SYSTEM = {ListingActor.system}
# What the seller's software hears when an admin decides about a listing.
_MODERATION_EVENTS = {
    ListingAction.approve: "listing.approved",
    ListingAction.reject: "listing.rejected",
    ListingAction.remove: "listing.removed",
}
# Fields whose change must pass moderation again on a live listing.
_CONTENT_FIELDS = {"title", "description", "attributes", "category_id"}
_FINAL = (ListingStatus.archived, ListingStatus.removed)
_NEVER_PUBLIC = (ListingStatus.draft, ListingStatus.pending_review, ListingStatus.rejected)


# --- views ------------------------------------------------------------------------------------


def actors_for(listing: Listing, user: User | None) -> set[ListingActor]:
    actors: set[ListingActor] = set()
    if user is not None and listing.seller.user_id == user.id:
        actors.add(ListingActor.seller)
    if acts_as_admin(user):
        actors.add(ListingActor.admin)
    return actors


def to_read(listing: Listing, user: User | None, storage: MediaStorage) -> ListingRead:
    return ListingRead(**_view_fields(listing, user, storage))


def entity_tag_of(settings: Settings, listing: Listing, view: ListingRead) -> str:
    """The ETag of `view`, one caller's view of `listing` (see app.core.etag)."""
    return entity_tag(settings.jwt_secret, view, listing)


def to_admin_read(listing: Listing, admin: User, storage: MediaStorage) -> ListingAdminRead:
    return ListingAdminRead(
        **_view_fields(listing, admin, storage), report_count=listing.report_count
    )


def _view_fields(listing: Listing, user: User | None, storage: MediaStorage) -> dict[str, Any]:
    actors = actors_for(listing, user)
    insider = bool(actors)  # the seller or an admin
    seller = listing.seller
    return {
        **_card_fields(
            listing,
            {"id": seller.id, "shop_name": seller.shop_name, "slug": seller.slug},
            [_image_fields(image, storage) for image in listing.images],
        ),
        "low_stock_threshold": listing.low_stock_threshold if insider else None,
        "status_reason": listing.status_reason if insider else None,
        "allowed_actions": LISTING_LIFECYCLE.allowed_actions(listing.status, actors, listing),
    }


def _display_order(image: CardImage) -> tuple[int, uuid.UUID]:
    return image.position, image.id


def _image_fields(image: ListingImage | CardImage, storage: MediaStorage) -> dict[str, Any]:
    return {
        "id": image.id,
        "url": storage.url(image.storage_key),
        "content_type": image.content_type,
        "size_bytes": image.size_bytes,
        "position": image.position,
    }


def _card_fields(
    columns: Listing | Row[Any], seller: dict[str, Any], images: list[dict[str, Any]]
) -> dict[str, Any]:
    """What anyone may see of a listing, from the ORM object or from a search row (which
    has the same column names), as plain data for `ListingRead` to validate."""
    return {
        "id": columns.id,
        "seller": seller,
        "category_id": columns.category_id,
        "title": columns.title,
        "description": columns.description,
        "price": {"amount": columns.price_amount, "currency": columns.currency},
        "shipping_fee": {"amount": columns.shipping_fee_amount, "currency": columns.currency},
        "quantity": columns.quantity,
        "condition": columns.condition,
        "attributes": columns.attributes,
        "handling_days": columns.handling_days,
        "low_stock_threshold": None,
        "status": columns.status,
        "status_reason": None,
        "images": images,
        "published_at": columns.published_at,
        "created_at": columns.created_at,
        "updated_at": columns.updated_at,
        "allowed_actions": [],
    }


# --- lookups ----------------------------------------------------------------------------------


async def _detailed(session: AsyncSession, listing_id: uuid.UUID) -> Listing:
    listing = await ListingRepository(session).get_detailed(listing_id)
    if listing is None:
        raise ListingNotFound()
    return listing


def _is_public(listing: Listing) -> bool:
    return listing.status is ListingStatus.active and listing.seller_approved


async def get_visible(session: AsyncSession, listing_id: uuid.UUID, user: User | None) -> Listing:
    """A listing the caller may see: live ones for everybody, any of their own, any for
    admins. Anything else is indistinguishable from a listing that does not exist."""
    listing = await _detailed(session, listing_id)
    if _is_public(listing) or actors_for(listing, user):
        return listing
    raise ListingNotFound()


async def _owned(
    session: AsyncSession, listing_id: uuid.UUID, seller: SellerProfile, *, lock: bool = False
) -> Listing:
    """The seller's own listing (another seller's is a 404), optionally row-locked."""
    listings = ListingRepository(session)
    if lock:
        await listings.get_for_update(listing_id)
    listing = await listings.get_detailed(listing_id)
    if listing is None or listing.seller_id != seller.id:
        raise ListingNotFound()
    return listing


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
    session: AsyncSession, settings: Settings, seller: SellerProfile, data: ListingCreate
) -> Listing:
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
    return await _detailed(session, listing.id)


async def update(
    session: AsyncSession,
    settings: Settings,
    seller: SellerProfile,
    listing_id: uuid.UUID,
    data: ListingUpdate,
    *,
    if_match: str | None,
    viewer: User,
    storage: MediaStorage,
) -> Listing:
    """Apply a seller's edit. With `if_match`, only to the listing as `viewer` last read it
    (412 otherwise): the tag is compared under the row lock the edit holds, so of two
    editors with the same tag the second sees the first's committed edit."""
    listing = await _owned(session, listing_id, seller, lock=True)
    if if_match is not None:
        current = entity_tag_of(settings, listing, to_read(listing, viewer, storage))
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
    return await _detailed(session, listing.id)


async def act(
    session: AsyncSession,
    settings: Settings,
    seller: SellerProfile,
    listing_id: uuid.UUID,
    action: ListingAction,
) -> Listing:
    """publish / pause / resume / archive by the seller; the table decides what is legal."""
    listing = await _owned(session, listing_id, seller, lock=True)
    _apply(listing, action, _SELLER)
    if listing.status is ListingStatus.pending_review:
        _moderate(settings, listing)
    await session.flush()
    return await _detailed(session, listing.id)


async def seller_listings(
    session: AsyncSession, seller: SellerProfile, status: ListingStatus | None, page: PageParams
) -> tuple[list[Listing], str | None]:
    listings = ListingRepository(session)
    statement = listings.with_details(listings.of_seller(seller.id, status))
    return await paginate(
        session, statement, keys=[SortKey(Listing.id, descending=True)], page=page
    )


_MAX_SNIFF = 16


async def add_image(
    session: AsyncSession,
    settings: Settings,
    storage: MediaStorage,
    seller: SellerProfile,
    listing_id: uuid.UUID,
    data: bytes,
) -> Listing:
    listing = await _owned(session, listing_id, seller, lock=True)
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
    return await _detailed(session, listing.id)


async def delete_image(
    session: AsyncSession,
    storage: MediaStorage,
    seller: SellerProfile,
    listing_id: uuid.UUID,
    image_id: uuid.UUID,
) -> None:
    listing = await _owned(session, listing_id, seller, lock=True)
    image = next((i for i in listing.images if i.id == image_id), None)
    if image is None:
        raise ListingNotFound("no such image on this listing")
    listing.images.remove(image)
    await session.flush()
    await storage.delete(image.storage_key)


# --- everyone ---------------------------------------------------------------------------------


async def report(
    session: AsyncSession, user: User, listing_id: uuid.UUID, data: ReportCreate
) -> ListingReport:
    await get_visible(session, listing_id, user)
    entry = ListingReport(
        listing_id=listing_id, reporter_id=user.id, reason=data.reason, details=data.details
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
    shops and images; a category's subtree comes from memory), read as plain rows and
    validated as one page (a page is built on every search; ORM objects and a model per
    listing cost more than the query)."""
    category_ids = None
    if category is not None:
        category_ids = (await category_tree.get(session)).subtree_ids(category)
        if not category_ids:
            return Page[ListingRead](items=[], next_cursor=None)  # an unknown category
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
    cards = [
        _card_fields(
            row,
            {"id": row.seller_id, "shop_name": row.shop_name, "slug": row.slug},
            [
                _image_fields(image, storage)
                for image in sorted(map(CardImage.from_json, row.images or ()), key=_display_order)
            ],
        )
        for row in rows
    ]
    return Page[ListingRead].model_validate({"items": cards, "next_cursor": cursor})


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
            "listing.low_stock",
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
    session: AsyncSession, *, status: ListingStatus | None, reported: bool, page: PageParams
) -> tuple[list[Listing], str | None]:
    """Reported listings most-reported first; otherwise oldest first (a review queue)."""
    listings = ListingRepository(session)
    statement = listings.with_details(listings.moderation_queue(status=status, reported=reported))
    keys = (
        [SortKey(Listing.report_count, descending=True), SortKey(Listing.id, descending=True)]
        if reported
        else [SortKey(Listing.id)]
    )
    return await paginate(
        session, statement, keys=keys, page=page, tag="reported" if reported else "queue"
    )


async def moderate(
    session: AsyncSession,
    admin: User,
    listing_id: uuid.UUID,
    action: ListingAction,
    reason: str | None,
) -> Listing:
    """approve / reject / remove by an admin, audited."""
    await ListingRepository(session).get_for_update(listing_id)
    listing = await _detailed(session, listing_id)
    before = _apply(listing, action, _ADMIN)
    listing.status_reason = reason
    await record_audit(
        session,
        actor_id=admin.id,
        action=f"listing.{action.value}",
        target_type="listing",
        target_id=listing.id,
        reason=reason,
        details={"from": before.value, "to": listing.status.value},
    )
    await outbox.emit(
        session,
        _MODERATION_EVENTS[action],
        seller_id=listing.seller_id,
        data={
            "listing_id": listing.id,
            "seller_id": listing.seller_id,
            "title": listing.title,
            "status": listing.status,
            "reason": reason,
        },
    )
    return await _detailed(session, listing.id)


async def reports_of(
    session: AsyncSession, listing_id: uuid.UUID, page: PageParams
) -> tuple[list[ListingReport], str | None]:
    await _detailed(session, listing_id)
    statement = ReportRepository(session).of_listing(listing_id)
    return await paginate(session, statement, keys=[SortKey(ListingReport.id)], page=page)


async def set_seller_visibility(
    session: AsyncSession, seller_id: uuid.UUID, approved: bool
) -> None:
    """A seller's suspension hides all their listings from search and purchase at once;
    reinstatement brings them back in the state they were in."""
    await ListingRepository(session).set_seller_approved(seller_id, approved)


async def withdraw_all_of_seller(session: AsyncSession, seller_id: uuid.UUID) -> None:
    """A closed shop's listings leave the catalog for good: archived (kept for the orders
    that refer to them), and hidden as a suspended seller's are."""
    listings = ListingRepository(session)
    await listings.set_seller_approved(seller_id, False)
    await listings.archive_all_of_seller(seller_id, reason="the shop closed")
