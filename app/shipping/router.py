"""The carrier registry, public: a seller's client renders its carrier picker from it. A
shop's shipping profiles, which its listings charge shipping by."""

from fastapi import APIRouter, Response, status

from app.auth.dependencies import AppSettings
from app.auth.exceptions import InvalidToken
from app.config import Environment
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.etag import (
    ETAG_HEADER,
    TAGGED_READ,
    TAGGED_WRITE,
    IfMatch,
    IfNoneMatch,
    PreconditionFailed,
    tagged,
)
from app.core.money import CurrencyNotSupported
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of
from app.sellers.dependencies import ActiveSeller, ShopPrincipal
from app.sellers.exceptions import SellerRequired, SellerSuspended
from app.shipping import profiles, views
from app.shipping.carriers import CARRIERS, OTHER, OTHER_NAME, SANDBOX, Carrier
from app.shipping.dependencies import OwnShippingProfile
from app.shipping.exceptions import (
    DuplicateDestination,
    ShippingProfileInUse,
    ShippingProfileNameTaken,
    ShippingProfileNotFound,
    UnknownDestination,
)
from app.shipping.schemas import (
    CarrierRead,
    ShippingProfileCreate,
    ShippingProfileRead,
    ShippingProfileUpdate,
    TrackingFormatRead,
)

carriers_router = APIRouter(prefix=f"{API_PREFIX}/carriers", tags=["carriers"])
shipping_profiles_router = APIRouter(
    prefix=f"{API_PREFIX}/sellers/me/shipping-profiles",
    tags=["shipping-profiles"],
    responses=error_responses(InvalidToken, SellerRequired),
)


def _read(carrier: Carrier) -> CarrierRead:
    return CarrierRead(
        code=carrier.code,
        name=carrier.name,
        country=carrier.country,
        tracking_url_template=carrier.tracking_url,
        formats=[TrackingFormatRead(name=f.name, example=f.example) for f in carrier.formats],
    )


# The registry is data shipped with the code: built once.
_CARRIERS = [
    *(_read(carrier) for carrier in CARRIERS.values()),
    CarrierRead(code=OTHER, name=OTHER_NAME, country=None, tracking_url_template=None, formats=[]),
]


@carriers_router.get("", summary="List carriers", response_model=list[CarrierRead])
async def list_carriers(settings: AppSettings) -> list[CarrierRead]:
    """Every carrier a parcel may name, in a stable order, with the formats its tracking
    numbers take (an example of each) and its tracking page. The last entry, `other`, stands
    for any carrier not listed: a parcel with it needs a `carrier_name`, and its number is
    only checked to be 4 to 40 letters, digits and hyphens. A parcel's number is normalized
    (white space removed, upper case) and must match one of its carrier's formats, check digit
    included, or the parcel is refused with 422 `invalid_tracking_number`. The `sandbox`
    carrier (scripted journeys for testing) is absent in production."""
    if settings.environment is Environment.production:
        return [carrier for carrier in _CARRIERS if carrier.code != SANDBOX]
    return _CARRIERS


# --- shipping profiles -------------------------------------------------------------------------

_PROFILE_ERRORS = (
    CurrencyNotSupported,
    UnknownDestination,
    DuplicateDestination,
    ShippingProfileNameTaken,
    SellerSuspended,
)


@shipping_profiles_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ShippingProfileRead,
    responses=error_responses(*_PROFILE_ERRORS),
)
async def create_shipping_profile(
    body: ShippingProfileCreate,
    seller: ActiveSeller,
    session: DbSession,
    settings: AppSettings,
    response: Response,
) -> ShippingProfileRead:
    """Set up a way of charging shipping, for your listings to point to (their
    `shipping_profile_id`). Its rates say what shipping to each destination costs: the first
    unit of the profile's items in an order pays `first_item`, every further unit
    `additional_item`, and nothing at all when those items cost at least `free_over`. A
    country's own rate beats its region's (`EU`), which beats `*` (everywhere else); a country
    no rate names is not served, and checkout to it is refused (422
    `destination_not_served`). Listings without a profile charge their flat `shipping_fee`
    per order line. The answer carries the profile's `ETag`."""
    profile = await profiles.create(session, settings, seller, body)
    view = views.profile_read(profile)
    response.headers[ETAG_HEADER] = profiles.entity_tag_of(settings, profile, view)
    return view


@shipping_profiles_router.get(
    "", response_model=Page[ShippingProfileRead], responses=error_responses(InvalidCursor)
)
async def list_shipping_profiles(
    principal: ShopPrincipal, session: DbSession, page: PageQuery
) -> Page[ShippingProfileRead]:
    """Your shop's shipping profiles with their rates, oldest first."""
    return page_of(*await profiles.list_own(session, principal, page), views.profile_read)


@shipping_profiles_router.get(
    "/{shipping_profile_id}",
    response_model=ShippingProfileRead,
    responses={**TAGGED_READ, **error_responses(ShippingProfileNotFound)},
)
async def get_shipping_profile(
    profile: OwnShippingProfile,
    settings: AppSettings,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> ShippingProfileRead | Response:
    """One of your shipping profiles. The `ETag` header tags it: send it back in `If-Match`
    to edit only what you read, or in `If-None-Match` to be told 304 when it has not
    changed."""
    view = views.profile_read(profile)
    return tagged(response, profiles.entity_tag_of(settings, profile, view), view, if_none_match)


@shipping_profiles_router.put(
    "/{shipping_profile_id}",
    response_model=ShippingProfileRead,
    responses={
        **TAGGED_WRITE,
        **error_responses(ShippingProfileNotFound, PreconditionFailed, *_PROFILE_ERRORS),
    },
)
async def replace_shipping_profile(
    body: ShippingProfileUpdate,
    _seller: ActiveSeller,
    profile: OwnShippingProfile,
    session: DbSession,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> ShippingProfileRead:
    """Replace the profile: its name, currency and every rate. Its listings charge the new
    rates from their next checkout (carts show them at once); orders keep what they were
    charged. With `If-Match` (the `ETag` of your last read) the change applies only if the
    profile has not changed since (412 `precondition_failed` otherwise, and nothing
    changes); the answer carries the new `ETag`."""
    await profiles.replace(session, settings, profile, body, if_match=if_match)
    view = views.profile_read(profile)
    response.headers[ETAG_HEADER] = profiles.entity_tag_of(settings, profile, view)
    return view


@shipping_profiles_router.delete(
    "/{shipping_profile_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(ShippingProfileNotFound, ShippingProfileInUse, SellerSuspended),
)
async def delete_shipping_profile(
    _seller: ActiveSeller, profile: OwnShippingProfile, session: DbSession
) -> Response:
    """Delete the profile. Refused (409 `shipping_profile_in_use`) while a listing that may
    still be sold (draft, in review, active, paused, sold out or rejected) points to it: move
    those to another profile, or to no profile, first. Archived and removed listings let go
    of it."""
    await profiles.delete(session, profile)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
