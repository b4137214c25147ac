from app.core.errors import Conflict, NotFound, UnprocessableEntity


class OfferNotFound(NotFound):
    code, title = "not_found", "Offer not found"


class OffersNotAccepted(Conflict):
    code, title = "offers_not_accepted", "The listing does not take offers"


class OfferAlreadyOpen(Conflict):
    code, title = "offer_already_open", "You already have an open offer on this listing"


class OfferNotBelowPrice(UnprocessableEntity):
    code, title = "offer_not_below_price", "An offer must be below the listing's price"


class OfferAbovePrice(Conflict):
    code, title = "offer_above_price", "The agreed price is no longer below the listing's"


class OfferTooLow(UnprocessableEntity):
    code, title = "offer_too_low", "An offer this low was already declined"


class TooManyOffers(Conflict):
    code, title = "too_many_offers", "Enough offers on this listing for now"
