from app.core.errors import Conflict, NotFound, UnprocessableEntity


class FavouriteNotFound(NotFound):
    code, title = "not_found", "Favourite not found"


class AlreadyFavourited(Conflict):
    code, title = "already_favourited", "The listing is already one of your favourites"


class CannotFavouriteOwnListing(UnprocessableEntity):
    code, title = "cannot_favourite_own_listing", "A shop cannot favourite its own listing"


class FavouriteLimitReached(Conflict):
    code, title = "favourite_limit_reached", "You have as many favourites as one may keep"


class SavedSearchNotFound(NotFound):
    code, title = "not_found", "Saved search not found"


class SavedSearchLimitReached(Conflict):
    code, title = "saved_search_limit_reached", "You have as many saved searches as one may keep"


class SavedSearchTooBroad(UnprocessableEntity):
    code, title = "saved_search_too_broad", "A saved search needs words, a category or a shop"
