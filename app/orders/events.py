"""Which timeline steps are domain events (outbox), and under what name. Every step of an
order, return, dispute or review passes through `service.record_event`, so this one table
decides what the outside world hears."""

from app.orders.models import EventSubject

_DISPUTE_EVENTS = {
    "open": "dispute.opened",
    "seller_reply": "dispute.answered",
    "buyer_reply": "dispute.answered",
    "message": "dispute.answered",
    "escalate": "dispute.escalated",
    "resolve": "dispute.resolved",
    "auto_resolve": "dispute.resolved",
}

SUBJECT_ID_KEY = {
    EventSubject.return_request: "return_id",
    EventSubject.dispute: "dispute_id",
    EventSubject.review: "review_id",
}


def event_type(subject: EventSubject, action: str, change: tuple[str | None, str]) -> str | None:
    """The outbox event of a timeline step, or None when the step is not announced (a
    review being written stays secret until publication)."""
    before, after = change
    if subject is EventSubject.order:
        if action == "create":
            return "order.created"
        return f"order.{after}" if before != after else None
    if subject is EventSubject.return_request:
        return f"return.{after}" if before != after else None
    if subject is EventSubject.dispute:
        return _DISPUTE_EVENTS.get(action)
    return "review.published" if action == "publish" else None
