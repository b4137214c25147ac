"""Presenters: listings as the API shows them — to the public (`ListingPublic`: the listing's
state with its shop's folded in, nothing only insiders see) and to insiders, the listing's
seller and admins (`ListingRead`: the lifecycle state, what only they see, `allowed_actions`
for the caller's roles) — their pages, reports and entity tags."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row

from app.catalog.models import Listing, ListingImage, ListingReport, ListingStatus
from app.catalog.repository import CardImage
from app.catalog.schemas import (
    ListingAdminRead,
    ListingPublic,
    ListingPublicStatus,
    ListingRead,
    ListingSearchPage,
    ReportRead,
    SearchFacets,
    SellerListingsPage,
)
from app.catalog.state import LISTING_LIFECYCLE, ListingActor
from app.config import Settings
from app.core.etag import entity_tag, representation_tag
from app.core.guards import Guarded
from app.core.storage import MediaStorage
from app.sellers.models import SellerStatus

GuardedListing = Guarded[Listing, ListingActor]
# Every stored column of a listing, by name: what its entity tag covers.
_LISTING_COLUMNS = tuple(column.key for column in Listing.__table__.columns)


def public_status(status: ListingStatus, shop: SellerStatus) -> ListingPublicStatus:
    """The state buyers are shown: a removal outweighs everything; then a shop that may not
    sell (closed, suspended) outweighs the listing's own state."""
    if status is ListingStatus.removed:
        return ListingPublicStatus.removed
    if shop is SellerStatus.closed:
        return ListingPublicStatus.shop_closed
    if shop is not SellerStatus.approved:
        return ListingPublicStatus.shop_suspended
    return ListingPublicStatus(status.value)


def for_sale(listing: Listing | Row[Any]) -> bool:
    return listing.status is ListingStatus.active and listing.seller_approved


def to_public(listing: Listing, storage: MediaStorage) -> ListingPublic:
    """The listing page as anyone sees it (see _public)."""
    return _public(listing, _seller_fields(listing), listing.images, listing.seller.status, storage)


def public_page(settings: Settings, page: Row[Any], storage: MediaStorage) -> tuple[str, str]:
    """A listing's page read as one row (see ListingRepository.get_page), as its JSON and
    its ETag: the same view and tag as `tagged_public` makes of the ORM listing, serialised
    once (the tag is computed over that JSON, and the answer is that JSON)."""
    seller = {"id": page.seller_id, "shop_name": page.shop_name, "slug": page.slug}
    view = _public(page, seller, _card_images(page), page.shop_status, storage)
    representation = view.model_dump_json()
    columns = page._asdict()
    state = {key: columns[key] for key in _LISTING_COLUMNS}
    return representation, representation_tag(settings.jwt_secret, representation, state)


def _public(
    columns: Listing | Row[Any],
    seller: dict[str, Any],
    images: Iterable[ListingImage | CardImage],
    shop: SellerStatus,
    storage: MediaStorage,
) -> ListingPublic:
    """The listing page as anyone sees it. A listing taken down by moderation keeps its
    title, price and shop (orders and conversations link to it) but not its description or
    images, which may be what broke the rules."""
    removed = columns.status is ListingStatus.removed
    fields = _card_fields(
        columns,
        seller,
        [] if removed else [_image_fields(image, storage) for image in images],
        status=public_status(columns.status, shop),
        for_sale=for_sale(columns),
    )
    if removed:
        fields["description"] = ""
    return ListingPublic.model_validate(fields)


def thumbnail_url(listing: Listing, storage: MediaStorage) -> str | None:
    """Absolute URL of the listing's first image in its thumbnail size (None: no image), for
    the other domains' screens (cart and order lines, conversations). The listing's images
    must be loaded (they are on every listing `service.many` and the guards return)."""
    if not listing.images:
        return None
    first = min(listing.images, key=lambda image: (image.position, image.id))
    return storage.url(first.thumbnail_key or first.storage_key)


def to_read(listing: GuardedListing, storage: MediaStorage) -> ListingRead:
    return ListingRead.model_validate(_insider_fields(listing, storage))


def to_admin_read(listing: GuardedListing, storage: MediaStorage) -> ListingAdminRead:
    return ListingAdminRead.model_validate(
        {**_insider_fields(listing, storage), "report_count": listing.subject.report_count}
    )


def search_page(
    rows: Sequence[Row[Any]],
    next_cursor: str | None,
    storage: MediaStorage,
    *,
    total: int | None,
    total_capped: bool,
    facets: SearchFacets | None,
) -> ListingSearchPage:
    """Search rows (see ListingRepository.search: live listings only, so for sale) as the
    public sees them, validated as one page: a page is built on every search, and a model per
    listing costs more than the query."""
    cards = [
        _card_fields(
            row,
            {"id": row.seller_id, "shop_name": row.shop_name, "slug": row.slug},
            [_image_fields(image, storage) for image in _card_images(row)],
            status=ListingPublicStatus.active,
            for_sale=True,
        )
        for row in rows
    ]
    return ListingSearchPage.model_validate(
        {
            "items": cards,
            "next_cursor": next_cursor,
            "total": total,
            "total_capped": total_capped,
            "facets": facets,
        }
    )


def seller_listings_page(
    rows: Sequence[GuardedListing],
    next_cursor: str | None,
    counts: dict[ListingStatus, int],
    storage: MediaStorage,
) -> SellerListingsPage:
    return SellerListingsPage(
        items=[to_read(listing, storage) for listing in rows],
        next_cursor=next_cursor,
        counts=counts,
    )


def report_read(report: ListingReport) -> ReportRead:
    return ReportRead.model_validate(report)


def tagged_public(
    settings: Settings, listing: Listing, storage: MediaStorage
) -> tuple[ListingPublic, str]:
    """The public view of the listing and its ETag (see app.core.etag)."""
    view = to_public(listing, storage)
    return view, entity_tag(settings.jwt_secret, view, listing)


def tagged_read(
    settings: Settings, listing: GuardedListing, storage: MediaStorage
) -> tuple[ListingRead, str]:
    """The insider's view of the listing and its ETag (see app.core.etag): the tag of what
    this caller sees, so another representation has another tag."""
    view = to_read(listing, storage)
    return view, entity_tag(settings.jwt_secret, view, listing.subject)


def _insider_fields(guarded: GuardedListing, storage: MediaStorage) -> dict[str, Any]:
    listing, roles = guarded.subject, guarded.roles
    return _card_fields(
        listing,
        _seller_fields(listing),
        [_image_fields(image, storage) for image in listing.images],
        status=listing.status,
        for_sale=for_sale(listing),
        shop_status=listing.seller.status,
        shipping_profile_id=listing.shipping_profile_id,
        low_stock_threshold=listing.low_stock_threshold,
        offer_floor=(
            None
            if listing.offer_floor_amount is None
            else {"amount": listing.offer_floor_amount, "currency": listing.currency}
        ),
        status_reason=listing.status_reason,
        favourite_count=listing.favourite_count,
        allowed_actions=LISTING_LIFECYCLE.allowed_actions(listing.status, roles, listing),
    )


def _seller_fields(listing: Listing) -> dict[str, Any]:
    seller = listing.seller
    return {"id": seller.id, "shop_name": seller.shop_name, "slug": seller.slug}


def _card_images(row: Row[Any]) -> list[CardImage]:
    """The images of a row with a card's `images` JSON, in display order."""
    return sorted(map(CardImage.from_json, row.images or ()), key=_display_order)


def _display_order(image: CardImage) -> tuple[int, uuid.UUID]:
    return image.position, image.id


def _image_fields(image: ListingImage | CardImage, storage: MediaStorage) -> dict[str, Any]:
    original = storage.url(image.storage_key)
    return {
        "id": image.id,
        "url": original,
        "urls": {
            "thumbnail": storage.url(image.thumbnail_key) if image.thumbnail_key else original,
            "medium": storage.url(image.medium_key) if image.medium_key else original,
            "original": original,
        },
        "alt_text": image.alt_text,
        "width": image.width,
        "height": image.height,
        "content_type": image.content_type,
        "size_bytes": image.size_bytes,
        "position": image.position,
    }


def _card_fields(
    columns: Listing | Row[Any],
    seller: dict[str, Any],
    images: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """What anyone may see of a listing, from the ORM object or from a search row (which
    has the same column names), as plain data for the schemas to validate; `extra`: the
    fields that depend on who looks."""
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
        "accepts_offers": columns.accepts_offers,
        "images": images,
        "published_at": columns.published_at,
        "created_at": columns.created_at,
        "updated_at": columns.updated_at,
        **extra,
    }
