"""The watchlists routes: the caller's favourites and saved searches."""

import uuid

from fastapi import APIRouter, Response, status

from app.auth.dependencies import AppSettings, CurrentPrincipal
from app.auth.exceptions import InvalidToken
from app.catalog.dependencies import Storage
from app.catalog.exceptions import ListingNotFound, UnknownCategory
from app.core.db import DbSession
from app.core.errors import ValidationFailed, error_responses
from app.core.money import CurrencyNotSupported
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of
from app.watchlists import service, views
from app.watchlists.dependencies import OwnSavedSearch
from app.watchlists.exceptions import (
    AlreadyFavourited,
    CannotFavouriteOwnListing,
    FavouriteLimitReached,
    FavouriteNotFound,
    SavedSearchLimitReached,
    SavedSearchNotFound,
    SavedSearchTooBroad,
)
from app.watchlists.schemas import (
    FavouriteCreate,
    FavouriteRead,
    SavedSearchCreate,
    SavedSearchRead,
    SavedSearchUpdate,
)

favourites_router = APIRouter(
    prefix=f"{API_PREFIX}/me/favourites",
    tags=["favourites"],
    responses=error_responses(InvalidToken),
)
saved_searches_router = APIRouter(
    prefix=f"{API_PREFIX}/me/saved-searches",
    tags=["saved-searches"],
    responses=error_responses(InvalidToken),
)

_FAVOURITE_ERRORS = (ListingNotFound, CannotFavouriteOwnListing, FavouriteLimitReached)


@favourites_router.post(
    "",
    summary="Favourite a listing",
    status_code=status.HTTP_201_CREATED,
    response_model=FavouriteRead,
    responses=error_responses(*_FAVOURITE_ERRORS, AlreadyFavourited),
)
async def create_favourite(
    body: FavouriteCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
) -> FavouriteRead:
    """Keep a listing that is for sale or sold out (any other is 404) as a favourite; not
    your own shop's (422 `cannot_favourite_own_listing`), and at most the configured number
    of them (409 `favourite_limit_reached`). A listing already kept is 409
    `already_favourited` (`PUT /v1/me/favourites/{listing_id}` answers it as it is instead).
    While it is a favourite you are told (`GET /v1/notifications`), within a minute or so,
    once when its price falls below the lowest price you were shown
    (`favourite.price_dropped`; a rise says nothing), and once when, seen without stock, it
    is for sale with stock again (`favourite.back_in_stock`). The listing's seller sees how
    many people keep it (`favourite_count`), never who."""
    kept, listing, _ = await service.favourite(
        session, settings, principal, body.listing_id, existing_ok=False
    )
    return views.favourite_read(kept, listing, storage)


@favourites_router.put(
    "/{listing_id}",
    summary="Favourite a listing (idempotent)",
    response_model=FavouriteRead,
    responses={
        status.HTTP_201_CREATED: {"model": FavouriteRead, "description": "Newly favourited"},
        **error_responses(*_FAVOURITE_ERRORS),
    },
)
async def put_favourite(
    listing_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    storage: Storage,
    response: Response,
) -> FavouriteRead:
    """Keep the listing as a favourite, as `POST /v1/me/favourites` does, except that a
    listing already kept is answered as it is (200), even one no longer for sale, rather than
    refused; 201 when it is new."""
    kept, listing, created = await service.favourite(
        session, settings, principal, listing_id, existing_ok=True
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return views.favourite_read(kept, listing, storage)


@favourites_router.get(
    "",
    summary="List my favourites",
    response_model=Page[FavouriteRead],
    responses=error_responses(InvalidCursor),
)
async def list_favourites(
    principal: CurrentPrincipal, session: DbSession, page: PageQuery, storage: Storage
) -> Page[FavouriteRead]:
    """Your favourites, newest first, each with its listing as buyers see it now (one that
    stopped being for sale stays, with its `status`), the price when you favourited it and
    its price now."""
    rows, cursor = await service.list_favourites(session, principal, page)
    return page_of(rows, cursor, lambda row: views.favourite_read(row[0], row[1], storage))


@favourites_router.delete(
    "/{listing_id}",
    summary="Remove a favourite",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(FavouriteNotFound),
)
async def delete_favourite(
    listing_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """The listing is no longer one of your favourites (404 if it was not); no more notices
    about it."""
    await service.unfavourite(session, principal, listing_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- saved searches -----------------------------------------------------------------------------

_SEARCH_ERRORS = (
    UnknownCategory,
    CurrencyNotSupported,
    ValidationFailed,
    SavedSearchTooBroad,
)


@saved_searches_router.post(
    "",
    summary="Save a search",
    status_code=status.HTTP_201_CREATED,
    response_model=SavedSearchRead,
    responses=error_responses(*_SEARCH_ERRORS, SavedSearchLimitReached),
)
async def create_saved_search(
    body: SavedSearchCreate, principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> SavedSearchRead:
    """Keep a search of `GET /v1/listings` (`query` words, `category` with its
    sub-categories, price range, conditions, shop) to hear of listings that go live from now
    on and match it: `instant` (a notice `saved_search.matched` within a minute or so, one
    per search for the listings found together) or `daily` (one `saved_search.digest` a day
    with the day's matches, if any). It must name words, a category or a shop (422
    `saved_search_too_broad`); an unknown category is 422 `unknown_category`; at most the
    configured number of searches (409 `saved_search_limit_reached`). Words match as the
    listing search matches them as typed: each must start a word of the title or
    description (no English stemming). A listing is told once per search."""
    search = await service.create_saved_search(session, settings, principal, body)
    return views.saved_search_read(search, settings.currency)


@saved_searches_router.get(
    "",
    summary="List my saved searches",
    response_model=Page[SavedSearchRead],
    responses=error_responses(InvalidCursor),
)
async def list_saved_searches(
    principal: CurrentPrincipal, session: DbSession, page: PageQuery, settings: AppSettings
) -> Page[SavedSearchRead]:
    """Your saved searches, oldest first."""
    rows, cursor = await service.list_saved_searches(session, principal, page)
    return page_of(rows, cursor, lambda row: views.saved_search_read(row, settings.currency))


@saved_searches_router.get(
    "/{saved_search_id}",
    summary="Read a saved search",
    response_model=SavedSearchRead,
    responses=error_responses(SavedSearchNotFound),
)
async def get_saved_search(search: OwnSavedSearch, settings: AppSettings) -> SavedSearchRead:
    """One of your saved searches (anybody else's is 404)."""
    return views.saved_search_read(search, settings.currency)


@saved_searches_router.patch(
    "/{saved_search_id}",
    summary="Change a saved search",
    response_model=SavedSearchRead,
    responses=error_responses(SavedSearchNotFound, *_SEARCH_ERRORS),
)
async def update_saved_search(
    body: SavedSearchUpdate, search: OwnSavedSearch, session: DbSession, settings: AppSettings
) -> SavedSearchRead:
    """Change its name, filters or frequency; the new filters apply to listings that go live
    from now on. Switching to `daily` sends the first digest a day later; switching to
    `instant` sends what was collected for the digest at once."""
    changed = await service.update_saved_search(session, settings, search, body)
    return views.saved_search_read(changed, settings.currency)


@saved_searches_router.delete(
    "/{saved_search_id}",
    summary="Delete a saved search",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(SavedSearchNotFound),
)
async def delete_saved_search(search: OwnSavedSearch, session: DbSession) -> Response:
    """The search and what it collected go; no more notices from it."""
    await service.delete_saved_search(session, search)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


ROUTERS: tuple[APIRouter, ...] = (favourites_router, saved_searches_router)
"""Every router of the package, in the order `app.api` includes them."""
