"""Entity tags for editable resources, and the `If-Match` / `If-None-Match` checks
(RFC 9110 §8.8.3, §13.1.1-2).

A tag is strong: it is a MAC over the representation the caller is shown *and* every stored
column of the resource's row(s). The representation makes it differ wherever two callers are
shown different bodies (a seller's and an admin's view of a listing); the row makes it change
with anything a representation does not show (a new payout account with the same last four
characters, a moderator's report count), so that a stale `If-Match` is refused even then. It
is keyed with a secret of the deployment so that a tag reveals nothing about the columns it
covers (a payout account guessed from a hash, say). Keeping no version column, it needs no
schema change; the price is that a no-op edit keeps the tag, which is what a client wants.

A conditional PATCH is race-free because the service compares the tag *under the row lock
its update takes*: two editors holding the same tag are serialised by the lock, and the
second one compares against the first one's committed state.
"""

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from fastapi import Header, Response, status
from pydantic import BaseModel, SecretStr
from sqlalchemy import inspect

from app.core.errors import AppError
from app.core.models import Base

ETAG_HEADER = "ETag"
_MAX_CONDITION_LENGTH = 2048
# `W/"..."` or `"..."` (RFC 9110 §8.8.3: entity-tag = [ weak ] opaque-tag), in a list.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition_failed", "The resource has changed"

    def __init__(self) -> None:
        super().__init__(
            "the If-Match entity tag is not the resource's current one: read it again "
            "(its ETag header) and redo the edit on what it is now"
        )


@lru_cache(maxsize=4)  # one secret per app; every tagged read needs its key
def _key(secret: SecretStr) -> bytes:
    # A key of its own, derived from the deployment secret: tags are never valid tokens.
    return hmac.new(
        secret.get_secret_value().encode(), b"marketplace entity tag v1", hashlib.sha256
    ).digest()


def _row_state(row: Base) -> dict[str, Any]:
    mapper = inspect(row).mapper
    return {attribute.key: getattr(row, attribute.key) for attribute in mapper.column_attrs}


def entity_tag(secret: SecretStr, view: BaseModel, *rows: Base) -> str:
    """The strong ETag of `view` (what this caller is shown) of the resource stored in
    `rows` (all of whose columns must be loaded)."""
    return representation_tag(secret, view.model_dump_json(), *map(_row_state, rows))


def representation_tag(secret: SecretStr, representation: str, *states: Mapping[str, Any]) -> str:
    """`entity_tag` of a view already serialised (`representation`, its JSON), of a resource
    read as plain rows: `states` hold every stored column of each row, by attribute name."""
    mac = hmac.new(_key(secret), digestmod=hashlib.sha256)
    mac.update(representation.encode())
    for state in states:
        mac.update(b"\0")
        mac.update(json.dumps(state, sort_keys=True, default=str).encode())
    return '"' + base64.urlsafe_b64encode(mac.digest()[:18]).decode() + '"'


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """(weak?, opaque tag) of each entity tag in a list; None when the list is malformed."""
    found: list[tuple[bool, str]] = []
    position = 0
    header = header.strip()
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            return None
        found.append((match.group(1) is not None, f'"{match.group(2)}"'))
        position = match.end()
    return found


def if_match_holds(if_match: str | None, current: str) -> bool:
    """RFC 9110 §13.1.1: no header, `*` (the resource exists: it was loaded), or the current
    tag in the list by strong comparison (a weak tag never matches). A malformed header
    matches nothing: the edit is refused rather than applied on a guess."""
    if if_match is None or if_match.strip() == "*":
        return True
    return (False, current) in (_tags(if_match) or [])


def if_none_match_holds(if_none_match: str | None, current: str) -> bool:
    """RFC 9110 §13.1.2, for GET: True when the caller's copy is stale (or it has none), so a
    full answer is due; False means 304 Not Modified. Comparison is weak."""
    if if_none_match is None:
        return True
    if if_none_match.strip() == "*":
        return False
    return current not in {tag for _, tag in _tags(if_none_match) or []}


def require_if_match(if_match: str | None, current: str) -> None:
    if not if_match_holds(if_match, current):
        raise PreconditionFailed()


ViewT = TypeVar("ViewT", bound=BaseModel)


def tagged(
    response: Response, tag: str, view: ViewT, if_none_match: str | None
) -> ViewT | Response:
    """The answer to a tagged GET: `view` with its ETag, or 304 (no body) when the copy the
    client holds is current."""
    if not if_none_match_holds(if_none_match, tag):
        return _not_modified(tag)
    response.headers[ETAG_HEADER] = tag
    return view


def tagged_json(tag: str, representation: str, if_none_match: str | None) -> Response:
    """`tagged` for a view already serialised (see app.core.routing.model_response): its
    JSON with its ETag, or 304."""
    if not if_none_match_holds(if_none_match, tag):
        return _not_modified(tag)
    return Response(representation, media_type="application/json", headers={ETAG_HEADER: tag})


def _not_modified(tag: str) -> Response:
    return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={ETAG_HEADER: tag})


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=_MAX_CONDITION_LENGTH,
        description="Apply the edit only if the resource is still as read: the `ETag` of "
        "the last read (or `*`). A stale tag answers 412 `precondition_failed` and changes "
        "nothing; without the header the edit is applied unconditionally.",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        max_length=_MAX_CONDITION_LENGTH,
        description="The `ETag` of a copy the client holds: if it is still current the "
        "answer is 304 Not Modified, without a body.",
    ),
]

_ETAG_DOC = {
    ETAG_HEADER: {
        "description": "Entity tag of the resource as shown: send it back in `If-Match` "
        "to edit only what you read",
        "schema": {"type": "string"},
    }
}
TAGGED_READ: dict[int | str, dict[str, Any]] = {
    200: {"headers": _ETAG_DOC},
    304: {"description": "Not modified: the `If-None-Match` tag is current", "headers": _ETAG_DOC},
}
"""`responses=` of a GET that answers with an ETag and honours `If-None-Match`."""
TAGGED_WRITE: dict[int | str, dict[str, Any]] = {200: {"headers": _ETAG_DOC}}
"""`responses=` of a PATCH whose answer carries the new ETag."""
