"""Presenters: a seller profile as its owner and admins see it (the payout account masked,
`allowed_actions` for the viewer's role), and its entity tag; a shop as anyone sees it."""

from collections.abc import Set as AbstractSet
from typing import Any

from app.config import Settings
from app.core.etag import entity_tag
from app.core.text import mask_secret
from app.sellers.models import SellerProfile, SellerStatus
from app.sellers.schemas import SellerRead, ShopPublic, ShopPublicStatus
from app.sellers.state import SELLER_LIFECYCLE, SellerActor


def to_read(profile: SellerProfile, actors: AbstractSet[SellerActor]) -> SellerRead:
    return SellerRead.model_validate(
        {
            **{k: getattr(profile, k) for k in SellerRead.model_fields if hasattr(profile, k)},
            "payout_account_masked": mask_secret(profile.payout_account),
            "allowed_actions": SELLER_LIFECYCLE.allowed_actions(profile.status, actors, profile),
        }
    )


_SHOP_STATUS = {
    SellerStatus.approved: ShopPublicStatus.active,
    SellerStatus.suspended: ShopPublicStatus.suspended,
}


def public_fields(profile: SellerProfile) -> dict[str, Any]:
    """A shop as anyone sees it (see `ShopPublic`), as plain data for a schema that shows a
    shop (the storefront adds its listings and rating to it)."""
    assert profile.approved_at is not None  # a public shop has been approved
    return ShopPublic(
        id=profile.id,
        shop_name=profile.shop_name,
        slug=profile.slug,
        description=profile.description,
        seller_type=profile.seller_type,
        country=profile.country,
        joined_at=profile.approved_at,
        status=_SHOP_STATUS[profile.status],
        accepting_orders=profile.status is SellerStatus.approved,
    ).model_dump()


def admin_view(profile: SellerProfile) -> SellerRead:
    return to_read(profile, {SellerActor.admin})


def owner_view(profile: SellerProfile) -> SellerRead:
    return to_read(profile, {SellerActor.owner})


def tagged_owner_view(settings: Settings, profile: SellerProfile) -> tuple[SellerRead, str]:
    """The owner's view of their profile and its ETag (see app.core.etag)."""
    view = owner_view(profile)
    return view, entity_tag(settings.jwt_secret, view, profile)
