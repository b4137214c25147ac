"""What a screen of a frontend needs, checked against the API: a `Screen` counts the requests
made to render it and checks that every field the screen shows is in the answers.

A field is named by a path: `a.b` walks into objects, `a[*].b` into every item of a list (a
list must not be empty: a screen that shows rows needs rows to prove anything), and
`a[name=x].b` picks the items whose `name` is `x` (at least one must match)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import json_ok


class MissingField(AssertionError):
    pass


def _split(path: str) -> tuple[str, str]:
    """The first step of a path and the rest (a `.` inside `[...]` is part of the step)."""
    depth = 0
    for index, char in enumerate(path):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "." and depth == 0:
            return path[:index], path[index + 1 :]
    return path, ""


def _values(document: Any, path: str) -> Iterator[Any]:
    head, rest = _split(path)
    name, _, selector = head.partition("[")
    here = document[name] if name else document
    if not selector:
        yield from (_values(here, rest) if rest else [here])
        return
    if not isinstance(here, list) or not here:
        raise MissingField(f"{name!r} is not a non-empty list")
    wanted = selector.rstrip("]")
    if wanted == "*":
        chosen = here
    else:
        key, _, value = wanted.partition("=")
        chosen = [item for item in here if str(item.get(key)) == value]
        if not chosen:
            raise MissingField(f"no item of {name!r} has {key} = {value}")
    for item in chosen:
        yield from (_values(item, rest) if rest else [item])


def require(document: Any, *paths: str) -> list[Any]:
    """Each path is present and not null wherever it leads: the values found, path by path."""
    found: list[Any] = []
    for path in paths:
        try:
            values = list(_values(document, path))
        except (KeyError, TypeError) as error:
            raise MissingField(f"{path}: {error!r} missing") from error
        if any(value is None for value in values):
            raise MissingField(f"{path} is null")
        found.extend(values)
    return found


@dataclass
class Screen:
    """One screen of a frontend: the requests it makes (at most `budget`) and what they gave."""

    client: httpx.AsyncClient
    who: LoggedIn
    name: str
    budget: int
    requests: list[str] = field(default_factory=list)

    async def get(self, path: str, **params: Any) -> Any:
        self.requests.append(path)
        assert len(self.requests) <= self.budget, (
            f"screen {self.name!r} needs more than {self.budget} requests: {self.requests}"
        )
        return json_ok(await self.client.get(path, params=params, headers=self.who.headers))
