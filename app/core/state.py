"""State machines as data.

Each aggregate declares one table `{(state, action): Transition(to, actors, event=...)}`.
From it derive what the API shows (`allowed_actions`), what it enforces (`target`) and what
the outside world hears (`event_of`), so the three can never drift apart.
Concurrency is the repository's job: it applies the transition with a
compare-and-set on the from-state.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from app.core.errors import InvalidTransition
from app.core.events import EventType

StateT = TypeVar("StateT", bound=StrEnum)
ActionT = TypeVar("ActionT", bound=StrEnum)
ActorT = TypeVar("ActorT", bound=StrEnum)
SubjectT = TypeVar("SubjectT")


@dataclass(frozen=True, slots=True)
class Transition(Generic[StateT, ActorT, SubjectT]):
    to: StateT | Callable[[SubjectT], StateT]
    """The next state, or a function of the subject when it depends on its data."""
    actors: frozenset[ActorT]
    guard: Callable[[SubjectT], bool] = field(default=lambda _subject: True)
    """An extra precondition on the subject (e.g. stock left); false hides the action."""
    actor_guards: Mapping[ActorT, Callable[[SubjectT], bool]] = field(default_factory=dict)
    """Preconditions for one kind of actor only (e.g. a buyer may cancel a paid order only
    once the seller is late)."""
    event: EventType | Callable[[StateT], EventType | None] | None = None
    """The domain event this transition emits (one of the owning domain's event types), or
    a function of the state it led to when that decides (a dispute settling an order as
    completed or refunded); None: the step is not announced."""

    def permits(self, actors: Iterable[ActorT], subject: SubjectT) -> bool:
        if not self.guard(subject):
            return False
        return any(
            actor in self.actors and self.actor_guards.get(actor, _always)(subject)
            for actor in actors
        )


def _always(_subject: object) -> bool:
    return True


class StateMachine(Generic[StateT, ActionT, ActorT, SubjectT]):
    def __init__(
        self,
        name: str,
        table: Mapping[tuple[StateT, ActionT], Transition[StateT, ActorT, SubjectT]],
    ) -> None:
        self.name = name
        self.table = dict(table)

    def allowed_actions(
        self, state: StateT, actors: Iterable[ActorT], subject: SubjectT
    ) -> list[ActionT]:
        roles = set(actors)
        return [
            action
            for (from_state, action), transition in self.table.items()
            if from_state == state and transition.permits(roles, subject)
        ]

    def event_of(self, state: StateT, action: ActionT, reached: StateT) -> EventType | None:
        """The event the transition `(state, action)` emits on reaching `reached`."""
        event = self.table[(state, action)].event
        return event(reached) if callable(event) else event

    def target(
        self, state: StateT, action: ActionT, actors: Iterable[ActorT], subject: SubjectT
    ) -> StateT:
        """The state `action` leads to, or 409 `invalid_transition` if it is not allowed now."""
        transition = self.table.get((state, action))
        roles = set(actors)
        if transition is None or not roles & transition.actors:
            raise InvalidTransition(f"cannot {action.value} a {self.name} that is {state.value}")
        if not transition.permits(roles, subject):
            raise InvalidTransition(f"cannot {action.value} this {self.name} now")
        return transition.to(subject) if callable(transition.to) else transition.to
