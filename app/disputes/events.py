"""What returns and disputes announce (outbox events). Their lifecycles' transitions name
them (`app.disputes.state`); opening a return or a dispute, and a message that moves no
dispute on, pass theirs to the order's timeline themselves."""

from app.core.events import EventType


class ReturnEventType(EventType):
    requested = "return.requested", "The buyer asked to return items."
    approved = "return.approved", "The return was approved."
    rejected = "return.rejected", "The return was rejected."
    shipped_back = "return.shipped_back", "The buyer shipped the items back."
    received = "return.received", "The items came back and were refunded."


class DisputeEventType(EventType):
    opened = "dispute.opened", "The buyer opened a dispute."
    answered = "dispute.answered", "A party answered in the dispute."
    escalated = "dispute.escalated", "The dispute was escalated to the platform."
    resolved = "dispute.resolved", "The dispute was resolved."
