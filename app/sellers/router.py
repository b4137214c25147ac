from fastapi import APIRouter, status

from app.auth.dependencies import CurrentUser
from app.auth.exceptions import InvalidToken
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.core.routing import API_PREFIX
from app.sellers import service
from app.sellers.exceptions import SellerProfileExists, ShopNameTaken
from app.sellers.schemas import SellerApply, SellerRead, SellerUpdate
from app.sellers.service import UnusableShopName

router = APIRouter(
    prefix=f"{API_PREFIX}/sellers", tags=["sellers"], responses=error_responses(InvalidToken)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SellerRead,
    responses=error_responses(SellerProfileExists, ShopNameTaken, UnusableShopName),
)
async def apply_to_sell(body: SellerApply, user: CurrentUser, session: DbSession) -> SellerRead:
    """Apply to sell: the profile waits in `pending_review` for an admin. After a rejection,
    the same call re-applies with corrected details."""
    return service.owner_view(await service.apply(session, user, body))


@router.get("/me", response_model=SellerRead, responses=error_responses(NotFound))
async def get_my_seller_profile(user: CurrentUser, session: DbSession) -> SellerRead:
    """Your seller profile, with its status and, after a rejection or suspension, the reason.
    The payout account is shown masked."""
    return service.owner_view(await service.get_own(session, user))


@router.patch("/me", response_model=SellerRead, responses=error_responses(NotFound))
async def update_my_seller_profile(
    body: SellerUpdate, user: CurrentUser, session: DbSession
) -> SellerRead:
    """Change description, contact details or payout account (no new review needed)."""
    return service.owner_view(await service.update_own(session, user, body))
