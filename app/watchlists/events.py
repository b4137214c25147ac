"""What watching listings and searches tells the watcher (outbox events). Each names its
watcher (`recipient_id`) and no shop: no webhook hears them."""

from app.core.events import EventType


class WatchlistEventType(EventType):
    price_dropped = (
        "favourite.price_dropped",
        "A favourited listing's price fell below the lowest the favouriter was shown.",
    )
    back_in_stock = (
        "favourite.back_in_stock",
        "A favourited listing seen without stock is for sale with stock again.",
    )
    saved_search_matched = (
        "saved_search.matched",
        "New listings match an instant saved search.",
    )
    saved_search_digest = (
        "saved_search.digest",
        "The day's new listings matching a daily saved search.",
    )
