"""The return and dispute lifecycles, as API.md.

Returns: requested → approved | rejected; approved → shipped_back → received (refunded). A
seller silent past the deadline approves (the worker acts as `system`).

Disputes: open → awaiting_buyer (the seller answered) ⇄ awaiting_seller (the buyer answered
back); any of those → escalated (either party); an admin resolves at any point before that;
the worker resolves for the buyer when the seller owes an answer past the deadline.

A return announces each state it reaches (`return.approved`, ...); a dispute announces its
steps by what happened: an answer (whichever state it leads to), an escalation, a
decision."""

from enum import StrEnum

from app.core.clock import now
from app.core.state import StateMachine, Transition
from app.disputes.events import DisputeEventType, ReturnEventType
from app.disputes.models import Dispute, DisputeStatus, ReturnRequest, ReturnStatus
from app.orders.state import OrderActor  # a return's or dispute's parties are the order's


class ReturnAction(StrEnum):
    approve = "approve"
    reject = "reject"
    ship_back = "ship_back"
    receive = "receive"


class DisputeAction(StrEnum):
    seller_reply = "seller_reply"
    buyer_reply = "buyer_reply"
    escalate = "escalate"
    resolve = "resolve"
    auto_resolve = "auto_resolve"


class DiscussionAction(StrEnum):
    """What a dispute's parties and admins may do on it while it is not resolved, whatever
    its state (escalated included): they move no state, so they are not in the table."""

    message = "message"
    add_evidence = "add_evidence"


def discussion_open(dispute: Dispute) -> bool:
    """Messages and evidence are accepted until the dispute is resolved."""
    return dispute.status is not DisputeStatus.resolved


def _deadline_passed(subject: ReturnRequest | Dispute) -> bool:
    return subject.respond_by is not None and subject.respond_by <= now()


R = ReturnStatus
RETURN_LIFECYCLE: StateMachine[ReturnStatus, ReturnAction, OrderActor, ReturnRequest] = (
    StateMachine(
        "return",
        {
            (R.requested, ReturnAction.approve): Transition(
                R.approved,
                frozenset({OrderActor.seller, OrderActor.system}),
                actor_guards={OrderActor.system: _deadline_passed},
                event=ReturnEventType.approved,
            ),
            (R.requested, ReturnAction.reject): Transition(
                R.rejected, frozenset({OrderActor.seller}), event=ReturnEventType.rejected
            ),
            (R.approved, ReturnAction.ship_back): Transition(
                R.shipped_back, frozenset({OrderActor.buyer}), event=ReturnEventType.shipped_back
            ),
            # The system receives a return whose parcel the carrier delivered to the seller
            # longer than the inspection time ago (the worker's query decides which).
            (R.shipped_back, ReturnAction.receive): Transition(
                R.received,
                frozenset({OrderActor.seller, OrderActor.system}),
                event=ReturnEventType.received,
            ),
        },
    )
)

D = DisputeStatus
_PARTIES = frozenset({OrderActor.buyer, OrderActor.seller})
_ADMIN = frozenset({OrderActor.admin})
_SELLER_OWES_ANSWER = (D.open, D.awaiting_seller)

DISPUTE_LIFECYCLE: StateMachine[DisputeStatus, DisputeAction, OrderActor, Dispute] = StateMachine(
    "dispute",
    {
        **{
            (state, DisputeAction.seller_reply): Transition(
                D.awaiting_buyer, frozenset({OrderActor.seller}), event=DisputeEventType.answered
            )
            for state in _SELLER_OWES_ANSWER
        },
        (D.awaiting_buyer, DisputeAction.buyer_reply): Transition(
            D.awaiting_seller, frozenset({OrderActor.buyer}), event=DisputeEventType.answered
        ),
        **{
            (state, DisputeAction.escalate): Transition(
                D.escalated, _PARTIES, event=DisputeEventType.escalated
            )
            for state in (D.open, D.awaiting_buyer, D.awaiting_seller)
        },
        **{
            (state, DisputeAction.resolve): Transition(
                D.resolved, _ADMIN, event=DisputeEventType.resolved
            )
            for state in (D.open, D.awaiting_buyer, D.awaiting_seller, D.escalated)
        },
        **{
            (state, DisputeAction.auto_resolve): Transition(
                D.resolved,
                frozenset({OrderActor.system}),
                guard=_deadline_passed,
                event=DisputeEventType.resolved,
            )
            for state in _SELLER_OWES_ANSWER
        },
    },
)


def deadline_of(subject: Dispute | ReturnRequest) -> dict[str, str]:
    """The seller's deadline, for an event's data: its notices and mails name the date."""
    return {} if subject.respond_by is None else {"respond_by": subject.respond_by.isoformat()}
