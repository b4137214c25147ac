"""Shipping profiles: a shop's rates per destination, which its listings point to, and their
terms for quoting (see app.shipping.quote)."""

import uuid
from collections.abc import Awaitable, Callable, Collection

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.core.clock import now
from app.core.etag import entity_tag, require_if_match
from app.core.ids import uuid7
from app.core.money import CurrencyNotSupported, Money
from app.core.pagination import PageParams, SortKey, paginate
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile
from app.shipping import views
from app.shipping.exceptions import (
    DuplicateDestination,
    ShippingProfileCurrencyMismatch,
    ShippingProfileInUse,
    ShippingProfileNameTaken,
    ShippingProfileNotFound,
    UnknownDestination,
    UnknownShippingProfile,
)
from app.shipping.models import ShippingProfile, ShippingRate
from app.shipping.quote import Profile, Rate
from app.shipping.regions import is_destination
from app.shipping.repository import ShippingProfileRepository
from app.shipping.schemas import ShippingProfileCreate, ShippingProfileRead, ShippingRateIn

DeletionListener = Callable[[AsyncSession, uuid.UUID], Awaitable[int]]
_deletion_listeners: list[DeletionListener] = []


def on_delete(listener: DeletionListener) -> None:
    """Registers a domain above shipping whose rows point to profiles (the catalog's
    listings): before a profile is deleted, it lets go of the profile where its rows may,
    and answers how many still need it. Shipping may not import the domains above it, yet
    must not delete a profile a listing still charges by; each registers once, on import."""
    if listener not in _deletion_listeners:
        _deletion_listeners.append(listener)


# --- the seller's profiles ---------------------------------------------------------------------


def _amount(money: Money, currency: str, where: str) -> int:
    if money.currency != currency:
        raise CurrencyNotSupported(
            f"{where} is in {money.currency}: a profile's amounts are in its currency, {currency}"
        )
    return money.amount


def _rates(data: ShippingProfileCreate, settings: Settings) -> list[ShippingRate]:
    """The body's rates as rows (in its order), once every amount is in the profile's
    currency (the platform's) and every destination is known and named by one rate only."""
    if data.currency != settings.currency:
        raise CurrencyNotSupported(
            f"a profile charges in {settings.currency}, the platform's currency"
        )
    rated_by: dict[str, int] = {}
    for index, rate in enumerate(data.rates):
        for code in rate.destinations:
            if not is_destination(code):
                raise UnknownDestination(
                    f"rates[{index}]: {code!r} is not an ISO 3166-1 alpha-2 country code, a "
                    "region (`EU`) or `*`"
                )
            if code in rated_by:
                earlier = rated_by[code]
                twice = "twice" if earlier == index else f"and by rates[{index}]"
                raise DuplicateDestination(
                    f"{code} is named by rates[{earlier}] {twice}: each destination has one rate"
                )
            rated_by[code] = index
    return [_rate(rate, data.currency, f"rates[{i}]") for i, rate in enumerate(data.rates)]


def _rate(rate: ShippingRateIn, currency: str, where: str) -> ShippingRate:
    return ShippingRate(
        # Given here, in the body's order: the rates are listed in id order.
        id=uuid7(),
        destinations=list(rate.destinations),
        first_item_amount=_amount(rate.first_item, currency, f"{where}.first_item"),
        additional_item_amount=_amount(rate.additional_item, currency, f"{where}.additional_item"),
        free_over_amount=(
            None
            if rate.free_over is None
            else _amount(rate.free_over, currency, f"{where}.free_over")
        ),
    )


async def create(
    session: AsyncSession, settings: Settings, seller: SellerProfile, data: ShippingProfileCreate
) -> ShippingProfile:
    """A new profile of the caller's shop (`seller`, which may sell now)."""
    profile = ShippingProfile(
        id=uuid7(),
        seller_id=seller.id,
        name=data.name,
        currency=data.currency,
        rates=_rates(data, settings),
    )
    return await ShippingProfileRepository(session).save_unique(
        profile, ShippingProfileNameTaken(f"the shop already has a profile named {data.name!r}")
    )


async def list_own(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[ShippingProfile], str | None]:
    """The caller's shop's profiles, oldest first (the order a seller set them up in)."""
    statement = ShippingProfileRepository(session).of_seller(seller_service.require_shop(principal))
    return await paginate(session, statement, keys=[SortKey(ShippingProfile.id)], page=page)


async def get_own(
    session: AsyncSession, principal: Principal, profile_id: uuid.UUID, *, lock: bool
) -> ShippingProfile:
    """One of the caller's shop's profiles with its rates; another shop's is a 404, decided
    by the query. `lock` holds its row for the rest of the transaction."""
    profile = await ShippingProfileRepository(session).get_of_seller(
        profile_id, seller_service.require_shop(principal), lock=lock
    )
    if profile is None:
        raise ShippingProfileNotFound()
    return profile


def entity_tag_of(settings: Settings, profile: ShippingProfile, view: ShippingProfileRead) -> str:
    """The ETag of `view` of `profile` (see app.core.etag): over the profile and its rates."""
    return entity_tag(settings.jwt_secret, view, profile, *profile.rates)


async def replace(
    session: AsyncSession,
    settings: Settings,
    profile: ShippingProfile,
    data: ShippingProfileCreate,
    *,
    if_match: str | None,
) -> ShippingProfile:
    """The caller's locked profile replaced by `data`, its rates and all. With `if_match`,
    only the profile as the caller last read it (412 otherwise), compared under the lock."""
    if if_match is not None:
        require_if_match(if_match, entity_tag_of(settings, profile, views.profile_read(profile)))
    rates = _rates(data, settings)
    profile.name = data.name
    profile.currency = data.currency
    profile.rates = rates
    # A change of rates alone leaves the profile's own row as it was: it changed all the same.
    profile.updated_at = now()
    return await ShippingProfileRepository(session).save_unique(
        profile, ShippingProfileNameTaken(f"the shop already has a profile named {data.name!r}")
    )


async def delete(session: AsyncSession, profile: ShippingProfile) -> None:
    """Deletes the caller's locked profile, unless a listing that may still be sold (any
    but an archived or removed one) points to it: those must move to another profile (or
    to a flat fee) first. Archived and removed listings let go of it (their orders keep the
    shipping they were charged)."""
    in_use = 0
    for listener in _deletion_listeners:
        in_use += await listener(session, profile.id)
    if in_use:
        raise ShippingProfileInUse(
            f"{in_use} listing{'s use' if in_use > 1 else ' uses'} this profile: point "
            f"{'them' if in_use > 1 else 'it'} to another profile (or to no profile) first"
        )
    await session.delete(profile)
    await session.flush()


# --- for the catalog and the orders ---------------------------------------------------------------


async def require_assignable(
    session: AsyncSession, *, seller_id: uuid.UUID, profile_id: uuid.UUID, currency: str
) -> None:
    """A listing of shop `seller_id`, priced in `currency`, may point to `profile_id`: one
    of the same shop's profiles (422 otherwise, another shop's included: it exists for
    nobody else), in the same currency (422)."""
    profile = await ShippingProfileRepository(session).get_to_assign(profile_id, seller_id)
    if profile is None:
        raise UnknownShippingProfile(
            f"your shop has no shipping profile {profile_id} (GET /v1/sellers/me/shipping-profiles)"
        )
    if profile.currency != currency:
        raise ShippingProfileCurrencyMismatch(
            f"the listing is priced in {currency}, the profile {profile.name!r} charges in "
            f"{profile.currency}"
        )


def terms(profile: ShippingProfile) -> Profile:
    """A profile (its rates loaded) as the quote reads it."""
    return Profile(
        id=profile.id,
        name=profile.name,
        rates=tuple(
            Rate(
                destinations=tuple(rate.destinations),
                first_item=rate.first_item_amount,
                additional_item=rate.additional_item_amount,
                free_over=rate.free_over_amount,
            )
            for rate in profile.rates
        ),
    )


async def terms_of(
    session: AsyncSession, profile_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Profile]:
    """The profiles' terms by id, read in one statement (none when no id is asked for)."""
    if not profile_ids:
        return {}
    found = await ShippingProfileRepository(session).many_with_rates(profile_ids)
    return {profile.id: terms(profile) for profile in found}
