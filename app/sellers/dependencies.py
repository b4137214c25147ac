"""Seller guards: who may sell now, and whose shop a request is about."""

from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import CurrentUser
from app.core.db import DbSession
from app.sellers import service
from app.sellers.models import SellerProfile


async def get_active_seller(user: CurrentUser, session: DbSession) -> SellerProfile:
    return await service.require_active_seller(session, user)


async def get_own_seller_profile(user: CurrentUser, session: DbSession) -> SellerProfile:
    return await service.get_for_seller_user(session, user)


async def find_own_seller_profile(user: CurrentUser, session: DbSession) -> SellerProfile | None:
    return await service.find_for_user(session, user)


ActiveSeller = Annotated[SellerProfile, Depends(get_active_seller)]
"""An approved, unsuspended seller: may create and change listings (403 otherwise)."""
OwnSellerProfile = Annotated[SellerProfile, Depends(get_own_seller_profile)]
"""The caller's seller profile in any state: a suspended seller still sees their listings."""
MaybeSeller = Annotated[SellerProfile | None, Depends(find_own_seller_profile)]
"""The caller's seller profile if they have one (orders are read as buyer and as seller)."""
