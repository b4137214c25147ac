"""Presenters: favourites with their listings, saved searches."""

from app.catalog import views as catalog_views
from app.catalog.models import Condition, Listing
from app.core.money import Money
from app.core.storage import MediaStorage
from app.watchlists.models import Favourite, SavedSearch
from app.watchlists.schemas import FavouriteRead, SavedSearchRead


def favourite_read(favourite: Favourite, listing: Listing, storage: MediaStorage) -> FavouriteRead:
    """`listing` with its shop and images loaded."""
    return FavouriteRead(
        listing_id=favourite.listing_id,
        listing=catalog_views.to_public(listing, storage),
        price_when_favourited=Money(
            amount=favourite.price_at_favourite, currency=favourite.currency
        ),
        price_now=Money(amount=listing.price_amount, currency=listing.currency),
        favourited_at=favourite.created_at,
    )


def saved_search_read(search: SavedSearch, currency: str) -> SavedSearchRead:
    def money(amount: int | None) -> Money | None:
        return None if amount is None else Money(amount=amount, currency=currency)

    return SavedSearchRead(
        id=search.id,
        name=search.name,
        query=search.query,
        category_id=search.category_id,
        min_price=money(search.min_price),
        max_price=money(search.max_price),
        conditions=[Condition(c) for c in search.conditions],
        seller_id=search.seller_id,
        frequency=search.frequency,
        created_at=search.created_at,
        updated_at=search.updated_at,
    )
