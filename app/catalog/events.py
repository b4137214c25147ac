"""What the catalog announces to a listing's shop (outbox events). An admin's decisions are
named by the listing lifecycle's transitions (`app.catalog.state`); running low on stock is
no transition and passes its own."""

from app.core.events import EventType


class ListingEventType(EventType):
    low_stock = "listing.low_stock", "A listing's quantity fell to its low-stock threshold."
    approved = "listing.approved", "An admin approved a listing held for review; it is live."
    rejected = "listing.rejected", "An admin rejected a listing held for review."
    removed = "listing.removed", "An admin removed a listing."


class ListingReportEventType(EventType):
    """An admin's decision on reports, told to each reporter. It names no shop (the shop
    never learns who reported it), so no webhook hears it."""

    dismissed = (
        "listing_report.dismissed",
        "An admin reviewed the report and left the listing up.",
    )
    upheld = "listing_report.upheld", "An admin removed the reported listing."
