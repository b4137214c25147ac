"""Presenters: a seller profile as its owner and admins see it (the payout account masked,
`allowed_actions` for the viewer's role), and its entity tag."""

from collections.abc import Set as AbstractSet

from app.config import Settings
from app.core.etag import entity_tag
from app.core.text import mask_secret
from app.sellers.models import SellerProfile
from app.sellers.schemas import SellerRead
from app.sellers.state import SELLER_LIFECYCLE, SellerActor


def to_read(profile: SellerProfile, actors: AbstractSet[SellerActor]) -> SellerRead:
    return SellerRead.model_validate(
        {
            **{k: getattr(profile, k) for k in SellerRead.model_fields if hasattr(profile, k)},
            "payout_account_masked": mask_secret(profile.payout_account),
            "allowed_actions": SELLER_LIFECYCLE.allowed_actions(profile.status, actors, profile),
        }
    )


def admin_view(profile: SellerProfile) -> SellerRead:
    return to_read(profile, {SellerActor.admin})


def owner_view(profile: SellerProfile) -> SellerRead:
    return to_read(profile, {SellerActor.owner})


def tagged_owner_view(settings: Settings, profile: SellerProfile) -> tuple[SellerRead, str]:
    """The owner's view of their profile and its ETag (see app.core.etag)."""
    view = owner_view(profile)
    return view, entity_tag(settings.jwt_secret, view, profile)
