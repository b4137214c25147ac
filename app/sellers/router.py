from fastapi import APIRouter, Response, status

from app.auth.dependencies import AppSettings, CurrentPrincipal, VerifiedPrincipal
from app.auth.exceptions import EmailNotVerified, InvalidToken
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.core.etag import (
    ETAG_HEADER,
    TAGGED_READ,
    TAGGED_WRITE,
    IfMatch,
    IfNoneMatch,
    PreconditionFailed,
    tagged,
)
from app.core.routing import API_PREFIX
from app.sellers import service, views
from app.sellers.exceptions import SellerProfileExists, ShopNameTaken, UnusableShopName
from app.sellers.schemas import SellerApply, SellerRead, SellerUpdate

router = APIRouter(
    prefix=f"{API_PREFIX}/sellers", tags=["sellers"], responses=error_responses(InvalidToken)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SellerRead,
    responses=error_responses(
        SellerProfileExists, ShopNameTaken, UnusableShopName, EmailNotVerified
    ),
)
async def apply_to_sell(
    body: SellerApply, principal: VerifiedPrincipal, session: DbSession
) -> SellerRead:
    """Apply to sell: the profile waits in `pending_review` for an admin. After a rejection,
    the same call re-applies with corrected details. Where verification is required, an
    unverified email answers 403 `email_not_verified`."""
    return views.owner_view(await service.apply(session, principal, body))


@router.get(
    "/me", response_model=SellerRead, responses={**TAGGED_READ, **error_responses(NotFound)}
)
async def get_my_seller_profile(
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> SellerRead | Response:
    """Your seller profile, with its status and, after a rejection or suspension, the reason.
    The payout account is shown masked. The `ETag` header tags it: send it back in
    `If-Match` to edit only what you read, or in `If-None-Match` to be told 304 when it has
    not changed."""
    view, etag = views.tagged_owner_view(settings, await service.get_own(session, principal))
    return tagged(response, etag, view, if_none_match)


@router.patch(
    "/me",
    response_model=SellerRead,
    responses={**TAGGED_WRITE, **error_responses(NotFound, PreconditionFailed)},
)
async def update_my_seller_profile(
    body: SellerUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> SellerRead:
    """Change description, contact details or payout account (no new review needed). With
    `If-Match` (the `ETag` of your last read) the change applies only if the profile has
    not changed since (412 `precondition_failed` otherwise, and nothing changes); the
    answer carries the new `ETag`."""
    profile = await service.update_own(session, settings, principal, body, if_match=if_match)
    view, etag = views.tagged_owner_view(settings, profile)
    response.headers[ETAG_HEADER] = etag
    return view
