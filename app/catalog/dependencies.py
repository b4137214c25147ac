"""Catalog dependencies: the app's media storages and category tree, and the guard of a
seller's own listing."""

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import CurrentPrincipal, OptionalPrincipal
from app.catalog import service
from app.catalog.category_tree import CategoryTreeCache
from app.catalog.models import Listing
from app.catalog.state import ListingActor
from app.core.db import Database, DbSession
from app.core.guards import Guarded, writes
from app.core.storage import MediaStorage
from app.sellers.dependencies import ActiveSeller


async def get_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.storage
    return storage


Storage = Annotated[MediaStorage, Depends(get_storage)]


async def get_private_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.private_storage
    return storage


PrivateStorage = Annotated[MediaStorage, Depends(get_private_storage)]


async def get_category_tree(request: Request) -> CategoryTreeCache:
    tree: CategoryTreeCache = request.app.state.category_tree
    return tree


CategoryTree = Annotated[CategoryTreeCache, Depends(get_category_tree)]


async def guard_own_listing(
    listing_id: uuid.UUID,
    request: Request,
    _seller: ActiveSeller,
    principal: CurrentPrincipal,
    session: DbSession,
) -> Guarded[Listing, ListingActor]:
    # The shop must be allowed to sell now (403) before its listing is looked for (404).
    return await service.get_own(session, principal, listing_id, lock=writes(request))


OwnListing = Annotated[Guarded[Listing, ListingActor], Depends(guard_own_listing)]
"""A listing of the caller's shop, which may sell now (403 otherwise); another shop's
listing is a 404. Locked when the request writes."""


async def get_listing_page_session(
    request: Request, principal: OptionalPrincipal
) -> AsyncIterator[AsyncSession]:
    """Buyers and visitors read a listing's page from the replica. A shop's owner or an admin
    may be looking at what they just wrote (a draft's preview, the ETag they will send back
    in If-Match), which a lagging replica could miss: they read the primary."""
    database: Database = request.app.state.database
    may_preview = principal is not None and (principal.shop_id is not None or principal.is_admin)
    maker = database.read_sessionmaker if may_preview else database.replica_sessionmaker
    async with maker() as session:
        yield session


ListingPageSession = Annotated[AsyncSession, Depends(get_listing_page_session, scope="function")]
