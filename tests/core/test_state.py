"""app/core/state.py: the transition-table helper, through the real seller and listing tables.

`allowed_actions` (what the API shows) and `target` (what it enforces) derive from one table;
these tests pin both and prove they agree for every state, action and actor."""

import itertools
from enum import StrEnum
from typing import TypeVar

import pytest

from app.catalog.models import Listing, ListingStatus
from app.catalog.state import LISTING_LIFECYCLE, ListingAction, ListingActor
from app.core.errors import InvalidTransition
from app.core.state import StateMachine, Transition
from app.sellers.models import SellerProfile, SellerStatus
from app.sellers.state import SELLER_LIFECYCLE, SellerAction, SellerActor

L = ListingStatus
LA = ListingAction
S = SellerStatus
SA = SellerAction
ADMIN = {SellerActor.admin}
ActorT = TypeVar("ActorT", bound=StrEnum)
OWNER = {SellerActor.owner}


def _listing(status: ListingStatus, quantity: int = 3) -> Listing:
    return Listing(status=status, quantity=quantity)


def _actor_sets(actors: type[ActorT]) -> list[set[ActorT]]:
    """Every combination of actors, the empty one included."""
    members = list(actors)
    return [
        set(combo)
        for size in range(len(members) + 1)
        for combo in itertools.combinations(members, size)
    ]


# --- the seller table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "actors", "expected"),
    [
        (S.pending_review, ADMIN, [SA.approve, SA.reject]),
        (S.pending_review, OWNER, []),
        (S.approved, ADMIN, [SA.suspend]),
        (S.approved, OWNER, []),
        (S.rejected, ADMIN, []),
        (S.rejected, OWNER, [SA.reapply]),
        (S.suspended, ADMIN, [SA.reinstate]),
        (S.suspended, OWNER, []),
        (S.pending_review, set(), []),
        (S.rejected, ADMIN | OWNER, [SA.reapply]),
    ],
)
def test_seller_allowed_actions_per_actor(
    state: SellerStatus, actors: set[SellerActor], expected: list[SellerAction]
) -> None:
    assert SELLER_LIFECYCLE.allowed_actions(state, actors, SellerProfile()) == expected


@pytest.mark.parametrize(
    ("state", "action", "actors", "expected"),
    [
        (S.pending_review, SA.approve, ADMIN, S.approved),
        (S.pending_review, SA.reject, ADMIN, S.rejected),
        (S.approved, SA.suspend, ADMIN, S.suspended),
        (S.suspended, SA.reinstate, ADMIN, S.approved),
        (S.rejected, SA.reapply, OWNER, S.pending_review),
        # An extra role never hurts: an admin who is also the owner.
        (S.rejected, SA.reapply, ADMIN | OWNER, S.pending_review),
    ],
)
def test_seller_target(
    state: SellerStatus, action: SellerAction, actors: set[SellerActor], expected: SellerStatus
) -> None:
    assert SELLER_LIFECYCLE.target(state, action, actors, SellerProfile()) is expected


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (S.approved, SA.approve),
        (S.pending_review, SA.reinstate),
        (S.rejected, SA.suspend),
        (S.suspended, SA.approve),
        (S.approved, SA.reapply),
        (S.pending_review, SA.reapply),
    ],
)
def test_seller_target_from_a_wrong_state_is_invalid(
    state: SellerStatus, action: SellerAction
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        SELLER_LIFECYCLE.target(state, action, ADMIN | OWNER, SellerProfile())

    error = raised.value
    assert error.status == 409
    assert error.code == "invalid_transition"
    assert error.detail == f"cannot {action.value} a seller that is {state.value}"


@pytest.mark.parametrize(
    ("state", "action", "actors"),
    [
        (S.pending_review, SA.approve, OWNER),  # nobody approves their own shop
        (S.approved, SA.suspend, OWNER),
        (S.suspended, SA.reinstate, OWNER),
        (S.rejected, SA.reapply, ADMIN),  # re-applying is the applicant's move
        (S.pending_review, SA.approve, set()),
    ],
)
def test_seller_target_by_a_wrong_actor_is_invalid(
    state: SellerStatus, action: SellerAction, actors: set[SellerActor]
) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {action.value} a seller"):
        SELLER_LIFECYCLE.target(state, action, actors, SellerProfile())


# --- the listing table: guards and computed targets ----------------------------------------


@pytest.mark.parametrize(
    ("state", "actors", "expected"),
    [
        (L.draft, {ListingActor.seller}, {LA.publish, LA.archive}),
        (L.draft, {ListingActor.admin}, {LA.remove}),
        (L.pending_review, {ListingActor.seller}, {LA.archive}),
        (L.pending_review, {ListingActor.admin}, {LA.approve, LA.reject, LA.remove}),
        (L.pending_review, {ListingActor.system}, {LA.approve}),
        (L.active, {ListingActor.seller}, {LA.pause, LA.archive}),
        (L.active, {ListingActor.admin}, {LA.remove}),
        (L.active, {ListingActor.system}, {LA.sell_out, LA.resubmit}),
        (L.paused, {ListingActor.seller}, {LA.resume, LA.archive}),
        (L.sold_out, {ListingActor.system}, {LA.restock, LA.resubmit}),
        (L.rejected, {ListingActor.seller}, {LA.publish, LA.archive}),
        (L.active, {ListingActor.seller, ListingActor.admin}, {LA.pause, LA.archive, LA.remove}),
        (L.active, set(), set()),
        *[(final, set(ListingActor), set()) for final in (L.archived, L.removed)],
    ],
)
def test_listing_allowed_actions_per_actor(
    state: ListingStatus, actors: set[ListingActor], expected: set[ListingAction]
) -> None:
    allowed = LISTING_LIFECYCLE.allowed_actions(state, actors, _listing(state))

    assert set(allowed) == expected
    assert len(allowed) == len(expected)


@pytest.mark.parametrize(
    ("state", "action", "actor"),
    [
        (L.draft, LA.publish, ListingActor.seller),
        (L.rejected, LA.publish, ListingActor.seller),
        (L.sold_out, LA.restock, ListingActor.system),
    ],
)
def test_listing_guard_hides_and_refuses_without_stock(
    state: ListingStatus, action: ListingAction, actor: ListingActor
) -> None:
    empty = _listing(state, quantity=0)

    assert action not in LISTING_LIFECYCLE.allowed_actions(state, {actor}, empty)
    with pytest.raises(InvalidTransition) as raised:
        LISTING_LIFECYCLE.target(state, action, {actor}, empty)
    assert raised.value.detail == f"cannot {action.value} this listing now"
    assert raised.value.status == 409

    stocked = _listing(state, quantity=1)
    assert action in LISTING_LIFECYCLE.allowed_actions(state, {actor}, stocked)
    LISTING_LIFECYCLE.target(state, action, {actor}, stocked)


def test_the_wrong_actor_is_refused_before_the_guard_is_consulted() -> None:
    """Without stock and by the wrong actor, the answer is about the actor, not the stock."""
    with pytest.raises(InvalidTransition, match="that is draft"):
        LISTING_LIFECYCLE.target(L.draft, LA.publish, {ListingActor.admin}, _listing(L.draft, 0))


@pytest.mark.parametrize(
    ("state", "action", "actors"),
    [
        (L.pending_review, LA.approve, {ListingActor.admin}),
        (L.pending_review, LA.approve, {ListingActor.system}),
        (L.paused, LA.resume, {ListingActor.seller}),
    ],
)
@pytest.mark.parametrize(("quantity", "expected"), [(5, L.active), (0, L.sold_out)])
def test_listing_callable_target_depends_on_stock(
    state: ListingStatus,
    action: ListingAction,
    actors: set[ListingActor],
    quantity: int,
    expected: ListingStatus,
) -> None:
    target = LISTING_LIFECYCLE.target(state, action, actors, _listing(state, quantity))

    assert target is expected


@pytest.mark.parametrize(
    ("state", "action", "actors", "expected"),
    [
        (L.draft, LA.publish, {ListingActor.seller}, L.pending_review),
        (L.pending_review, LA.reject, {ListingActor.admin}, L.rejected),
        (L.active, LA.pause, {ListingActor.seller}, L.paused),
        (L.active, LA.sell_out, {ListingActor.system}, L.sold_out),
        (L.sold_out, LA.restock, {ListingActor.system}, L.active),
        (L.paused, LA.resubmit, {ListingActor.system}, L.pending_review),
        (L.rejected, LA.archive, {ListingActor.seller}, L.archived),
        (L.sold_out, LA.remove, {ListingActor.admin}, L.removed),
    ],
)
def test_listing_fixed_targets(
    state: ListingStatus,
    action: ListingAction,
    actors: set[ListingActor],
    expected: ListingStatus,
) -> None:
    assert LISTING_LIFECYCLE.target(state, action, actors, _listing(state)) is expected


@pytest.mark.parametrize(
    ("state", "action", "actors"),
    [
        (L.archived, LA.archive, {ListingActor.seller}),  # final states stay final
        (L.removed, LA.remove, {ListingActor.admin}),
        (L.archived, LA.publish, {ListingActor.seller}),
        (L.pending_review, LA.reject, {ListingActor.system}),  # rejection is a human's call
        (L.active, LA.sell_out, {ListingActor.seller}),  # stock drives it, not the seller
        (L.draft, LA.approve, {ListingActor.admin}),
        (L.active, LA.remove, {ListingActor.seller}),
    ],
)
def test_listing_illegal_moves(
    state: ListingStatus, action: ListingAction, actors: set[ListingActor]
) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {action.value} a listing"):
        LISTING_LIFECYCLE.target(state, action, actors, _listing(state))


# --- shown and enforced never drift apart ---------------------------------------------------


@pytest.mark.parametrize("quantity", [0, 2])
def test_listing_allowed_actions_match_target_everywhere(quantity: int) -> None:
    for state, action, actors in itertools.product(
        ListingStatus, ListingAction, _actor_sets(ListingActor)
    ):
        listing = _listing(state, quantity)
        shown = action in LISTING_LIFECYCLE.allowed_actions(state, actors, listing)
        try:
            result = LISTING_LIFECYCLE.target(state, action, actors, listing)
        except InvalidTransition:
            enforced = False
        else:
            enforced = True
            assert isinstance(result, ListingStatus)
        assert shown == enforced, (state, action, actors, quantity)


def test_seller_allowed_actions_match_target_everywhere() -> None:
    subject = SellerProfile()
    for state, action, actors in itertools.product(
        SellerStatus, SellerAction, _actor_sets(SellerActor)
    ):
        shown = action in SELLER_LIFECYCLE.allowed_actions(state, actors, subject)
        try:
            SELLER_LIFECYCLE.target(state, action, actors, subject)
        except InvalidTransition:
            enforced = False
        else:
            enforced = True
        assert shown == enforced, (state, action, actors)


# --- the helper itself ----------------------------------------------------------------------


class Door(StrEnum):
    open = "open"
    shut = "shut"


class DoorAction(StrEnum):
    close = "close"
    unlock = "unlock"


class Who(StrEnum):
    guard = "guard"


def test_guard_sees_the_subject_and_callable_to_chooses_the_state() -> None:
    seen: list[object] = []

    def guard(subject: dict[str, bool]) -> bool:
        seen.append(subject)
        return subject["has_key"]

    machine: StateMachine[Door, DoorAction, Who, dict[str, bool]] = StateMachine(
        "door",
        {
            (Door.shut, DoorAction.unlock): Transition(
                lambda s: Door.open if s["wide"] else Door.shut, frozenset({Who.guard}), guard
            ),
        },
    )
    with_key = {"has_key": True, "wide": True}

    assert machine.target(Door.shut, DoorAction.unlock, [Who.guard], with_key) is Door.open
    assert seen == [with_key]
    ajar = {"has_key": True, "wide": False}
    assert machine.target(Door.shut, DoorAction.unlock, [Who.guard], ajar) is Door.shut
    keyless = {"has_key": False, "wide": True}
    assert machine.allowed_actions(Door.shut, [Who.guard], keyless) == []
    with pytest.raises(InvalidTransition, match="cannot unlock this door now"):
        machine.target(Door.shut, DoorAction.unlock, [Who.guard], keyless)
    with pytest.raises(InvalidTransition, match="cannot close a door that is open"):
        machine.target(Door.open, DoorAction.close, [Who.guard], with_key)


def test_machine_keeps_its_own_copy_of_the_table() -> None:
    table: dict[tuple[Door, DoorAction], Transition[Door, Who, None]] = {
        (Door.open, DoorAction.close): Transition(Door.shut, frozenset({Who.guard}))
    }
    machine: StateMachine[Door, DoorAction, Who, None] = StateMachine("door", table)

    table.clear()

    assert machine.allowed_actions(Door.open, [Who.guard], None) == [DoorAction.close]
    assert machine.target(Door.open, DoorAction.close, iter([Who.guard]), None) is Door.shut
