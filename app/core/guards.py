"""Resource guards: what a domain's `dependencies.py` hands a handler once it has loaded an
aggregate through a query scoped to the caller (not theirs: 404, decided in SQL).

The guard, not the handler, decides locking: a request that writes (any method but GET,
HEAD, OPTIONS) gets the row locked for the rest of its transaction, so that a new write
handler cannot forget it.

A guard runs before the request body is validated (FastAPI validates an endpoint's body once
its dependencies have run): for a resource the caller cannot see, the answer is 404 whatever
the body, so nothing about a stranger's resource — not even which bodies it would accept —
is disclosed."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from starlette.requests import Request

SubjectT = TypeVar("SubjectT")
RoleT = TypeVar("RoleT", bound=StrEnum)

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Guarded(Generic[SubjectT, RoleT]):
    """An aggregate the caller may see, with the role(s) they hold on it."""

    subject: SubjectT
    roles: frozenset[RoleT]


def writes(request: Request) -> bool:
    """Whether the request's operation changes state (its guard then locks the row)."""
    return request.method.upper() not in _READS
