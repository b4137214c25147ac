"""Listing lifecycle, exactly as API.md: draft → pending_review → active | rejected;
active ⇄ paused; active → sold_out at quantity 0 (→ active on restock); any → archived
(seller); admin → removed. An admin's decisions are announced to the shop; the seller's own
steps and the platform's automatic ones (stock, moderation at publication) are not."""

from enum import StrEnum

from app.catalog.events import ListingEventType
from app.catalog.models import Listing
from app.catalog.models import ListingStatus as S
from app.core.state import StateMachine, Transition


class ListingAction(StrEnum):
    publish = "publish"
    approve = "approve"
    reject = "reject"
    pause = "pause"
    resume = "resume"
    sell_out = "sell_out"
    restock = "restock"
    resubmit = "resubmit"
    archive = "archive"
    remove = "remove"


class ListingActor(StrEnum):
    seller = "seller"
    admin = "admin"
    system = "system"
    """The platform itself: automatic moderation, stock changes."""


SELLER = frozenset({ListingActor.seller})
MODERATOR = frozenset({ListingActor.admin, ListingActor.system})
SYSTEM = frozenset({ListingActor.system})
ADMIN = frozenset({ListingActor.admin})


def _has_stock(listing: Listing) -> bool:
    return listing.quantity > 0


def _live_or_sold_out(listing: Listing) -> S:
    return S.active if listing.quantity > 0 else S.sold_out


def _approved_state(listing: Listing) -> S:
    return S.paused if listing.held_while_paused else _live_or_sold_out(listing)


_NOT_FINAL = (S.draft, S.pending_review, S.active, S.paused, S.sold_out, S.rejected)

LISTING_LIFECYCLE: StateMachine[S, ListingAction, ListingActor, Listing] = StateMachine(
    "listing",
    {
        (S.draft, ListingAction.publish): Transition(S.pending_review, SELLER, _has_stock),
        (S.rejected, ListingAction.publish): Transition(S.pending_review, SELLER, _has_stock),
        # Announced when an admin approves (`service.moderate`); the automatic approval at
        # publication answers the seller's own request, in its response.
        (S.pending_review, ListingAction.approve): Transition(
            _approved_state, MODERATOR, event=ListingEventType.approved
        ),
        (S.pending_review, ListingAction.reject): Transition(
            S.rejected, ADMIN, event=ListingEventType.rejected
        ),
        (S.active, ListingAction.pause): Transition(S.paused, SELLER),
        (S.paused, ListingAction.resume): Transition(_live_or_sold_out, SELLER),
        (S.active, ListingAction.sell_out): Transition(S.sold_out, SYSTEM),
        (S.sold_out, ListingAction.restock): Transition(S.active, SYSTEM, _has_stock),
        # A live listing whose content changed goes back to review when moderation asks.
        **{
            (state, ListingAction.resubmit): Transition(S.pending_review, SYSTEM)
            for state in (S.active, S.paused, S.sold_out)
        },
        **{(state, ListingAction.archive): Transition(S.archived, SELLER) for state in _NOT_FINAL},
        **{
            (state, ListingAction.remove): Transition(
                S.removed, ADMIN, event=ListingEventType.removed
            )
            for state in _NOT_FINAL
        },
    },
)
