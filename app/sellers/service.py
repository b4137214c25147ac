"""Seller onboarding use cases. Admin decisions are audited in the same transaction."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import User
from app.config import Settings
from app.core.audit import record_audit
from app.core.clock import now
from app.core.errors import NotFound, UnprocessableEntity
from app.core.etag import entity_tag, require_if_match
from app.core.ids import uuid7
from app.core.pagination import PageParams, SortKey, paginate
from app.core.text import mask_secret, slugify
from app.sellers.exceptions import (
    SellerProfileExists,
    SellerRequired,
    SellerSuspended,
    ShopNameTaken,
)
from app.sellers.models import SellerProfile, SellerStatus
from app.sellers.repository import SellerRepository
from app.sellers.schemas import SellerApply, SellerRead, SellerUpdate
from app.sellers.state import SELLER_LIFECYCLE, SellerAction, SellerActor


class UnusableShopName(UnprocessableEntity):
    code, title = "invalid_shop_name", "The shop name needs letters or digits"


def to_read(profile: SellerProfile, actors: set[SellerActor]) -> SellerRead:
    return SellerRead.model_validate(
        {
            **{k: getattr(profile, k) for k in SellerRead.model_fields if hasattr(profile, k)},
            "payout_account_masked": mask_secret(profile.payout_account),
            "allowed_actions": SELLER_LIFECYCLE.allowed_actions(profile.status, actors, profile),
        }
    )


def _slug_for(shop_name: str) -> str:
    slug = slugify(shop_name)
    if not slug:
        raise UnusableShopName("the shop name must contain Latin letters or digits")
    return slug


async def _set_status(
    session: AsyncSession, profile: SellerProfile, status: SellerStatus, reason: str | None
) -> None:
    """The one place a seller's status changes: the user's role mirror follows it."""
    profile.status = status
    profile.status_reason = reason
    profile.decided_at = now()
    if status is SellerStatus.approved and profile.approved_at is None:
        profile.approved_at = now()
    await auth_service.set_shop(session, profile.user_id, profile.id, status.value)


CLOSED_SHOP_NAME = "Closed shop"
ERASED = "erased"


async def apply(session: AsyncSession, user: User, data: SellerApply) -> SellerProfile:
    """Apply to sell, or re-apply after a rejection (the same profile goes back to review)."""
    sellers = SellerRepository(session)
    profile = await sellers.get_by_user(user.id)
    fields = data.model_dump(exclude={"payout_account"})
    fields["payout_account"] = data.payout_account.get_secret_value()
    fields["slug"] = _slug_for(data.shop_name)
    if profile is None:
        profile = SellerProfile(
            id=uuid7(), user_id=user.id, status=SellerStatus.pending_review, **fields
        )
        await sellers.save_unique(profile, ShopNameTaken())
        await auth_service.set_shop(session, user.id, profile.id, profile.status.value)
        return profile
    if profile.status is not SellerStatus.rejected:
        raise SellerProfileExists(f"your seller profile is {profile.status.value}")
    target = SELLER_LIFECYCLE.target(
        profile.status, SellerAction.reapply, {SellerActor.owner}, profile
    )
    for key, value in fields.items():
        setattr(profile, key, value)
    # Saved before anything can autoflush it, so a taken name is a 409, not a 500.
    await sellers.save_unique(profile, ShopNameTaken())
    await _set_status(session, profile, target, None)
    return profile


def _no_profile() -> NotFound:
    return NotFound("you have no seller profile; apply with POST /v1/sellers")


async def get_own(session: AsyncSession, user: User) -> SellerProfile:
    profile = await SellerRepository(session).get_by_user(user.id)
    if profile is None:
        raise _no_profile()
    return profile


def entity_tag_of(settings: Settings, profile: SellerProfile, view: SellerRead) -> str:
    """The ETag of `view` of `profile` (see app.core.etag)."""
    return entity_tag(settings.jwt_secret, view, profile)


async def update_own(
    session: AsyncSession,
    settings: Settings,
    user: User,
    data: SellerUpdate,
    *,
    if_match: str | None,
) -> SellerProfile:
    """The owner's edit; with `if_match`, only to the profile as last read (412 otherwise),
    compared under the row lock the edit holds so that of two editors with the same tag
    exactly one wins."""
    profile = await lock_for_user(session, user)
    if profile is None:
        raise _no_profile()
    if if_match is not None:
        require_if_match(if_match, entity_tag_of(settings, profile, owner_view(profile)))
    changes = data.model_dump(exclude_unset=True, exclude={"payout_account"})
    for key, value in changes.items():
        if value is not None:
            setattr(profile, key, value)
    if data.payout_account is not None:
        profile.payout_account = data.payout_account.get_secret_value()
    await session.flush()
    return profile


async def require_active_seller(session: AsyncSession, user: User) -> SellerProfile:
    """The caller's profile if they may sell now: 403 otherwise."""
    profile = await SellerRepository(session).get_by_user(user.id)
    if profile is not None and profile.status is SellerStatus.suspended:
        raise SellerSuspended(profile.status_reason)
    if profile is None or profile.status is not SellerStatus.approved:
        raise SellerRequired()
    return profile


async def get_for_seller_user(session: AsyncSession, user: User) -> SellerProfile:
    """The caller's profile in any state (a suspended seller still sees their listings)."""
    profile = await SellerRepository(session).get_by_user(user.id)
    if profile is None:
        raise SellerRequired()
    return profile


async def find_for_user(session: AsyncSession, user: User) -> SellerProfile | None:
    return await SellerRepository(session).get_by_user(user.id)


async def get_public(session: AsyncSession, seller_id: uuid.UUID) -> SellerProfile:
    profile = await SellerRepository(session).get_public(seller_id)
    if profile is None:
        raise NotFound("no such shop")
    return profile


async def get(
    session: AsyncSession, seller_id: uuid.UUID, *, for_update: bool = False
) -> SellerProfile:
    sellers = SellerRepository(session)
    profile = await (sellers.get_for_update(seller_id) if for_update else sellers.get(seller_id))
    if profile is None:
        raise NotFound("no such seller")
    return profile


async def lock(session: AsyncSession, seller_id: uuid.UUID) -> SellerProfile:
    """Row-lock a seller: money operations of one seller (payouts) run one at a time."""
    profile = await SellerRepository(session).get_for_update(seller_id)
    if profile is None:
        raise NotFound("no such seller")
    return profile


async def payout_account(session: AsyncSession, seller_id: uuid.UUID) -> str:
    """The unmasked payout account, for the payment provider only."""
    return (await get(session, seller_id)).payout_account


async def review_queue(
    session: AsyncSession,
    page: PageParams,
    *,
    status: SellerStatus | None,
    country: str | None,
    shop_name: str | None,
) -> tuple[list[SellerProfile], str | None]:
    """Oldest application first: the order a review queue is worked through."""
    sellers = SellerRepository(session)
    statement = sellers.review_queue(status=status, country=country, shop_name=shop_name)
    return await paginate(session, statement, keys=[SortKey(SellerProfile.id)], page=page)


async def decide(
    session: AsyncSession,
    admin: User,
    seller_id: uuid.UUID,
    action: SellerAction,
    reason: str | None,
) -> SellerProfile:
    """An admin's approve / reject / suspend / reinstate, audited."""
    # Locked, so of two admins deciding at once the second sees the first's outcome (409).
    profile = await get(session, seller_id, for_update=True)
    before = profile.status
    target = SELLER_LIFECYCLE.target(before, action, {SellerActor.admin}, profile)
    await _set_status(session, profile, target, reason)
    await record_audit(
        session,
        actor_id=admin.id,
        action=f"seller.{action.value}",
        target_type="seller",
        target_id=profile.id,
        reason=reason,
        details={"from": before.value, "to": target.value},
    )
    await session.flush()
    return profile


async def lock_for_user(session: AsyncSession, user: User) -> SellerProfile | None:
    return await SellerRepository(session).get_by_user(user.id, for_update=True)


async def close_for_deleted_account(session: AsyncSession, profile: SellerProfile) -> None:
    """The shop of an account being deleted, closed for good: what named or reached the person
    (names, contacts, the payout account) is erased; the id stays, for the orders that keep it.
    The caller holds the profile's row lock."""
    target = SELLER_LIFECYCLE.target(
        profile.status, SellerAction.close, {SellerActor.account_deletion}, profile
    )
    await _set_status(session, profile, target, "the owner deleted their account")
    profile.shop_name = CLOSED_SHOP_NAME
    profile.slug = f"closed-{profile.id}"
    profile.description = ""
    profile.legal_name = ERASED
    profile.contact_email = ERASED
    profile.contact_phone = ERASED
    profile.payout_account = ERASED
    await session.flush()


def admin_view(profile: SellerProfile) -> SellerRead:
    return to_read(profile, {SellerActor.admin})


def owner_view(profile: SellerProfile) -> SellerRead:
    return to_read(profile, {SellerActor.owner})
