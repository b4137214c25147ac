"""Seller guards: who may sell now, and whose shop a request is about. The shop is the
caller's principal's (`principal.shop_id`): loaded by its id where its profile is needed,
only checked where having one is enough."""

from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import CurrentPrincipal
from app.auth.principal import Principal
from app.core.db import DbSession
from app.sellers import service
from app.sellers.models import SellerProfile


async def get_active_seller(principal: CurrentPrincipal, session: DbSession) -> SellerProfile:
    return await service.require_active_seller(session, principal)


async def get_own_seller_profile(principal: CurrentPrincipal, session: DbSession) -> SellerProfile:
    return await service.get_for_seller(session, principal)


async def get_shop_principal(principal: CurrentPrincipal) -> Principal:
    # A dependency of its own, so that a caller without a shop is refused (403) before the
    # guards that take it look at their ids.
    service.require_shop(principal)
    return principal


ActiveSeller = Annotated[SellerProfile, Depends(get_active_seller)]
"""An approved, unsuspended seller: may create and change listings (403 otherwise)."""
OwnSellerProfile = Annotated[SellerProfile, Depends(get_own_seller_profile)]
"""The caller's seller profile in any state: a suspended seller still sees their listings."""
ShopPrincipal = Annotated[Principal, Depends(get_shop_principal)]
"""A caller with a shop, in any state, without loading it (a suspended shop still sees its
webhooks)."""
