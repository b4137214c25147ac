"""Seller profile lifecycle: pending_review → approved | rejected; approved ⇄ suspended;
a rejected applicant re-applies; any shop closes (for good) when its owner deletes the account."""

from enum import StrEnum

from app.core.state import StateMachine, Transition
from app.sellers.models import SellerProfile
from app.sellers.models import SellerStatus as S


class SellerAction(StrEnum):
    approve = "approve"
    reject = "reject"
    suspend = "suspend"
    reinstate = "reinstate"
    reapply = "reapply"
    close = "close"


class SellerActor(StrEnum):
    owner = "owner"
    admin = "admin"
    account_deletion = "account_deletion"
    """The owner deleting their account: never an actor of a view, so no view offers it."""


_ADMIN = frozenset({SellerActor.admin})
_OWNER = frozenset({SellerActor.owner})
_ACCOUNT_DELETION = frozenset({SellerActor.account_deletion})

SELLER_LIFECYCLE: StateMachine[S, SellerAction, SellerActor, SellerProfile] = StateMachine(
    "seller",
    {
        (S.pending_review, SellerAction.approve): Transition(S.approved, _ADMIN),
        (S.pending_review, SellerAction.reject): Transition(S.rejected, _ADMIN),
        (S.approved, SellerAction.suspend): Transition(S.suspended, _ADMIN),
        (S.suspended, SellerAction.reinstate): Transition(S.approved, _ADMIN),
        (S.rejected, SellerAction.reapply): Transition(S.pending_review, _OWNER),
        **{
            (status, SellerAction.close): Transition(S.closed, _ACCOUNT_DELETION)
            for status in (S.pending_review, S.approved, S.rejected, S.suspended)
        },
    },
)
