"""Favourites and saved searches: kept by their owner, read back with the listings they
point to. What the worker tells about them is in `app.watchlists.tasks`."""

import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.principal import Principal
from app.catalog import category_service
from app.catalog import service as catalog_service
from app.catalog.category_tree import CategoryTreeSnapshot
from app.catalog.exceptions import UnknownCategory
from app.catalog.models import Listing
from app.config import Settings
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.ids import uuid7
from app.core.money import require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.watchlists.exceptions import (
    AlreadyFavourited,
    CannotFavouriteOwnListing,
    FavouriteLimitReached,
    FavouriteNotFound,
    SavedSearchLimitReached,
    SavedSearchNotFound,
    SavedSearchTooBroad,
)
from app.watchlists.matching import index_key
from app.watchlists.models import AlertFrequency, Favourite, SavedSearch
from app.watchlists.repository import FavouriteRepository, SavedSearchRepository
from app.watchlists.schemas import SavedSearchCreate, SavedSearchUpdate

DIGEST_EVERY = timedelta(days=1)

# --- favourites ---------------------------------------------------------------------------------


async def favourite(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    listing_id: uuid.UUID,
    *,
    existing_ok: bool,
) -> tuple[Favourite, Listing, bool]:
    """The caller's favourite of a listing for sale or sold out (404 otherwise), not their
    own shop's (422), within their limit (409); with the listing, and whether it is new. An
    existing one is returned as it is when `existing_ok` (whatever its listing's state now:
    one paused since is still yours), else refused (409)."""
    favourites = FavouriteRepository(session)
    if existing_ok:
        held = await favourites.get_of_user(principal.user_id, listing_id)
        if held is not None:
            return held, (await catalog_service.many(session, [listing_id]))[listing_id], False
    listing = await catalog_service.get_watchable(session, listing_id)
    if principal.shop_id is not None and listing.seller_id == principal.shop_id:
        raise CannotFavouriteOwnListing()
    # One person's favourites are counted under their account's lock: two at once cannot
    # both slip under the limit.
    await auth_service.lock(session, principal.user)
    found = await favourites.get_of_user(principal.user_id, listing_id)
    if found is not None:
        if existing_ok:
            return found, listing, False
        raise AlreadyFavourited()
    if await favourites.count_of_user(principal.user_id) >= settings.favourites_per_user:
        raise FavouriteLimitReached(
            f"you keep {settings.favourites_per_user} favourites: remove one first"
        )
    created = Favourite(
        id=uuid7(),
        user_id=principal.user_id,
        listing_id=listing.id,
        price_at_favourite=listing.price_amount,
        price_seen=listing.price_amount,
        currency=listing.currency,
        in_stock_seen=listing.quantity > 0,
    )
    await favourites.save_unique(created, AlreadyFavourited())
    await catalog_service.adjust_favourite_count(session, listing.id, 1)
    return created, listing, True


async def list_favourites(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[tuple[Favourite, Listing]], str | None]:
    """The caller's favourites, newest first, each with its listing (in whatever state it is
    now: one that stopped being for sale stays until removed)."""
    statement = FavouriteRepository(session).of_user(principal.user_id)
    rows, cursor = await paginate(
        session, statement, keys=[SortKey(Favourite.id, descending=True)], page=page
    )
    listings = await catalog_service.many(session, [row.listing_id for row in rows])
    return [(row, listings[row.listing_id]) for row in rows], cursor


async def unfavourite(session: AsyncSession, principal: Principal, listing_id: uuid.UUID) -> None:
    """The caller's favourite of the listing goes (404 if there is none)."""
    favourites = FavouriteRepository(session)
    found = await favourites.get_of_user(principal.user_id, listing_id, lock=True)
    if found is None:
        raise FavouriteNotFound()
    await session.delete(found)
    await session.flush()
    await catalog_service.adjust_favourite_count(session, listing_id, -1)


# --- saved searches ---------------------------------------------------------------------------


async def _tree(session: AsyncSession) -> CategoryTreeSnapshot:
    return CategoryTreeSnapshot.build(await category_service.all_categories(session))


def _key_of(search: SavedSearch) -> str:
    return index_key(search.terms, search.category_id, search.seller_id)


async def _apply(
    session: AsyncSession,
    settings: Settings,
    search: SavedSearch,
    data: SavedSearchCreate | SavedSearchUpdate,
) -> None:
    """The body's fields (those it sets) onto `search`, checked as `GET /v1/listings` checks
    its filters, then its index key."""
    given = data.model_fields_set
    if "name" in given and data.name is not None:
        search.name = data.name
    if "query" in given:
        search.query = data.query
        search.terms = catalog_service.query_terms(data.query or "")
    if "category" in given:
        if data.category is None:
            search.category_id = None
        else:
            node = (await _tree(session)).node(data.category)
            if node is None:
                raise UnknownCategory(f"no category has the id or slug {data.category!r}")
            search.category_id = node.id
    for field in ("min_price", "max_price"):
        if field in given:
            money = getattr(data, field)
            amount = None if money is None else require_currency(money, settings.currency)
            setattr(search, field, amount)
    if "conditions" in given and data.conditions is not None:
        search.conditions = sorted({c.value for c in data.conditions})
    if "seller_id" in given:
        search.seller_id = data.seller_id
    if "frequency" in given and data.frequency is not None and data.frequency != search.frequency:
        # To daily: the first digest a day from now. To instant: what was collected goes in
        # one last digest at once.
        daily = data.frequency is AlertFrequency.daily
        search.digest_due_at = now() + DIGEST_EVERY if daily else now()
        search.frequency = data.frequency
    low, high = search.min_price, search.max_price
    if low is not None and high is not None and low > high:
        raise ValidationFailed(["body", "min_price"], "min_price is above max_price")
    if not search.terms and search.category_id is None and search.seller_id is None:
        raise SavedSearchTooBroad(
            "it would match every new listing: give `query` words, a `category` or a `seller_id`"
        )


async def create_saved_search(
    session: AsyncSession, settings: Settings, principal: Principal, data: SavedSearchCreate
) -> SavedSearch:
    searches = SavedSearchRepository(session)
    await auth_service.lock(session, principal.user)
    if await searches.count_of_user(principal.user_id) >= settings.saved_searches_per_user:
        raise SavedSearchLimitReached(
            f"you keep {settings.saved_searches_per_user} saved searches: delete one first"
        )
    search = SavedSearch(
        id=uuid7(),
        user_id=principal.user_id,
        name=data.name,
        terms=[],
        conditions=[],
        frequency=data.frequency,
        digest_due_at=now() + DIGEST_EVERY if data.frequency is AlertFrequency.daily else None,
    )
    await _apply(session, settings, search, data)
    await searches.add(search)
    await searches.set_key(search.id, _key_of(search))
    return search


async def list_saved_searches(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[SavedSearch], str | None]:
    """The caller's saved searches, oldest first."""
    statement = SavedSearchRepository(session).of_user(principal.user_id)
    return await paginate(session, statement, keys=[SortKey(SavedSearch.id)], page=page)


async def get_saved_search(
    session: AsyncSession, principal: Principal, saved_search_id: uuid.UUID, *, lock: bool
) -> SavedSearch:
    """One of the caller's saved searches; anybody else's is a 404."""
    search = await SavedSearchRepository(session).get_of_user(
        principal.user_id, saved_search_id, lock=lock
    )
    if search is None:
        raise SavedSearchNotFound()
    return search


async def update_saved_search(
    session: AsyncSession, settings: Settings, search: SavedSearch, data: SavedSearchUpdate
) -> SavedSearch:
    """The caller's locked search changed by `data`. New filters apply to listings that go
    live from now on; what was already found stays found."""
    await _apply(session, settings, search, data)
    search.updated_at = now()
    await session.flush()
    await SavedSearchRepository(session).set_key(search.id, _key_of(search))
    return search


async def delete_saved_search(session: AsyncSession, search: SavedSearch) -> None:
    await session.delete(search)
    await session.flush()


# --- privacy ------------------------------------------------------------------------------------


async def erase_for_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deleted account's favourites (their listings' counts follow) and saved searches
    go."""
    deltas: Counter[uuid.UUID] = Counter()
    for listing_id in await FavouriteRepository(session).delete_of_user(user_id):
        deltas[listing_id] -= 1
    await catalog_service.adjust_favourite_counts(session, deltas)
    await SavedSearchRepository(session).delete_of_user(user_id)
