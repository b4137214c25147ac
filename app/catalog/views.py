"""Presenters: listings as the API shows them (what an insider — the listing's seller or an
admin — sees beyond the public, and `allowed_actions` for the caller's roles), their pages,
reports and entity tags."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from app.catalog.models import Listing, ListingImage, ListingReport
from app.catalog.repository import CardImage
from app.catalog.schemas import ListingAdminRead, ListingRead, ReportRead
from app.catalog.state import LISTING_LIFECYCLE, ListingActor
from app.config import Settings
from app.core.etag import entity_tag
from app.core.guards import Guarded
from app.core.schemas import Page
from app.core.storage import MediaStorage

GuardedListing = Guarded[Listing, ListingActor]


def to_read(listing: GuardedListing, storage: MediaStorage) -> ListingRead:
    return ListingRead(**_view_fields(listing, storage))


def to_admin_read(listing: GuardedListing, storage: MediaStorage) -> ListingAdminRead:
    return ListingAdminRead(
        **_view_fields(listing, storage), report_count=listing.subject.report_count
    )


def search_page(
    rows: Sequence[Row[Any]], next_cursor: str | None, storage: MediaStorage
) -> Page[ListingRead]:
    """Search rows (see ListingRepository.search) as the public sees them, validated as one
    page: a page is built on every search, and a model per listing costs more than the
    query."""
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
    return Page[ListingRead].model_validate({"items": cards, "next_cursor": next_cursor})


def report_read(report: ListingReport) -> ReportRead:
    return ReportRead.model_validate(report)


def tagged_read(
    settings: Settings, listing: GuardedListing, storage: MediaStorage
) -> tuple[ListingRead, str]:
    """The caller's view of the listing and its ETag (see app.core.etag): the tag of what
    this caller sees, so another representation has another tag."""
    view = to_read(listing, storage)
    return view, entity_tag(settings.jwt_secret, view, listing.subject)


def _view_fields(guarded: GuardedListing, storage: MediaStorage) -> dict[str, Any]:
    listing, roles = guarded.subject, guarded.roles
    insider = bool(roles)  # the seller or an admin
    seller = listing.seller
    return {
        **_card_fields(
            listing,
            {"id": seller.id, "shop_name": seller.shop_name, "slug": seller.slug},
            [_image_fields(image, storage) for image in listing.images],
        ),
        "low_stock_threshold": listing.low_stock_threshold if insider else None,
        "status_reason": listing.status_reason if insider else None,
        "allowed_actions": LISTING_LIFECYCLE.allowed_actions(listing.status, roles, listing),
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
