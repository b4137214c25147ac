"""Seller onboarding use cases. Admin decisions are audited in the same transaction."""

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import User
from app.auth.principal import Principal
from app.config import Settings
from app.core.audit import record_audit
from app.core.clock import now
from app.core.errors import NotFound
from app.core.etag import require_if_match
from app.core.ids import uuid7
from app.core.pagination import PageParams, SortKey, paginate
from app.core.text import slugify
from app.sellers import views
from app.sellers.exceptions import (
    SellerProfileExists,
    SellerRequired,
    SellerSuspended,
    ShopNameTaken,
    UnusableShopName,
)
from app.sellers.models import SellerProfile, SellerStatus
from app.sellers.repository import SellerRepository
from app.sellers.schemas import SellerApply, SellerUpdate
from app.sellers.state import SELLER_LIFECYCLE, SellerAction, SellerActor

DecisionListener = Callable[[AsyncSession, SellerProfile], Awaitable[None]]
_decision_listeners: list[DecisionListener] = []


def on_decision(listener: DecisionListener) -> None:
    """Registers a domain above sellers that must follow an admin's decision about a shop in
    the same transaction (the catalog hides a suspended shop's listings and shows them again
    on reinstatement). Sellers may not import the domains above them, yet a decision must
    never leave them behind; each registers once, on import."""
    if listener not in _decision_listeners:
        _decision_listeners.append(listener)


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


async def _own(
    session: AsyncSession, principal: Principal, *, lock: bool = False
) -> SellerProfile | None:
    """The caller's shop in any state, by the id their principal carries (no shop: None)."""
    if principal.shop_id is None:
        return None
    sellers = SellerRepository(session)
    if lock:
        # NO KEY: a checkout holding a listing's lock may still insert an order for the shop.
        return await sellers.get_for_update(principal.shop_id, key_share=True)
    return await sellers.get(principal.shop_id)


async def apply(session: AsyncSession, principal: Principal, data: SellerApply) -> SellerProfile:
    """Apply to sell, or re-apply after a rejection (the same profile goes back to review)."""
    sellers = SellerRepository(session)
    profile = await _own(session, principal)
    fields = data.model_dump(exclude={"payout_account"})
    fields["payout_account"] = data.payout_account.get_secret_value()
    fields["slug"] = _slug_for(data.shop_name)
    if profile is None:
        profile = SellerProfile(
            id=uuid7(), user_id=principal.user_id, status=SellerStatus.pending_review, **fields
        )
        await sellers.save_unique(profile, ShopNameTaken())
        await auth_service.set_shop(session, principal.user_id, profile.id, profile.status.value)
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


async def get_own(session: AsyncSession, principal: Principal) -> SellerProfile:
    profile = await _own(session, principal)
    if profile is None:
        raise _no_profile()
    return profile


async def update_own(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    data: SellerUpdate,
    *,
    if_match: str | None,
) -> SellerProfile:
    """The owner's edit; with `if_match`, only to the profile as last read (412 otherwise),
    compared under the row lock the edit holds so that of two editors with the same tag
    exactly one wins."""
    profile = await _own(session, principal, lock=True)
    if profile is None:
        raise _no_profile()
    if if_match is not None:
        _, current = views.tagged_owner_view(settings, profile)
        require_if_match(if_match, current)
    changes = data.model_dump(exclude_unset=True, exclude={"payout_account"})
    for key, value in changes.items():
        if value is not None:
            setattr(profile, key, value)
    if data.payout_account is not None:
        profile.payout_account = data.payout_account.get_secret_value()
    await session.flush()
    return profile


def require_shop(principal: Principal) -> uuid.UUID:
    """The caller's shop, in any state, without a query (the principal carries its id): for
    what a shop keeps whatever its state (a suspended shop still sees its webhooks). A caller
    without one is refused (403 `seller_required`)."""
    if principal.shop_id is None:
        raise SellerRequired()
    return principal.shop_id


async def require_active_seller(session: AsyncSession, principal: Principal) -> SellerProfile:
    """The caller's profile if they may sell now: 403 otherwise."""
    profile = await _own(session, principal)
    if profile is not None and profile.status is SellerStatus.suspended:
        raise SellerSuspended(profile.status_reason)
    if profile is None or profile.status is not SellerStatus.approved:
        raise SellerRequired()
    return profile


async def get_for_seller(session: AsyncSession, principal: Principal) -> SellerProfile:
    """The caller's profile in any state (a suspended seller still sees their listings)."""
    profile = await _own(session, principal)
    if profile is None:
        raise SellerRequired()
    return profile


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
    principal: Principal,
    seller_id: uuid.UUID,
    action: SellerAction,
    reason: str | None,
) -> SellerProfile:
    """An admin's approve / reject / suspend / reinstate, audited, and followed in the same
    transaction by the domains registered with `on_decision`."""
    # Locked, so of two admins deciding at once the second sees the first's outcome (409).
    profile = await get(session, seller_id, for_update=True)
    before = profile.status
    target = SELLER_LIFECYCLE.target(before, action, {SellerActor.admin}, profile)
    await _set_status(session, profile, target, reason)
    await record_audit(
        session,
        actor_id=principal.user_id,
        action=f"seller.{action.value}",
        target_type="seller",
        target_id=profile.id,
        reason=reason,
        details={"from": before.value, "to": target.value},
    )
    await session.flush()
    for listener in _decision_listeners:
        await listener(session, profile)
    return profile


async def lock_for_user(session: AsyncSession, user: User) -> SellerProfile | None:
    """A user's shop, row-locked: the account being deleted."""
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
