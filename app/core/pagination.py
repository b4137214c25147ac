"""Opaque keyset cursors.

A page is ordered by a unique key (e.g. `(created_at, id)`); the cursor carries the last row's
key, and the next page starts strictly after it. Unlike offsets, this stays correct while rows
are inserted and costs one index range scan however deep the page.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, Select, and_, literal, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import AppError
from app.core.schemas import NO_NUL_PATTERN

MAX_LIMIT = 100


class InvalidCursor(AppError):
    status, code, title = 422, "invalid_cursor", "Invalid pagination cursor"


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None


async def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 20,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=NO_NUL_PATTERN,
            description="`next_cursor` of the previous page",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageQuery = Annotated[PageParams, Depends(_page_params)]


@dataclass(frozen=True, slots=True)
class SortKey:
    expression: ColumnElement[Any] | InstrumentedAttribute[Any]
    descending: bool = False


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, raw),) = value.items()
        if not isinstance(raw, str):
            raise ValueError("tagged cursor values are strings")
        if tag == "t":
            return datetime.fromisoformat(raw)
        if tag == "u":
            return uuid.UUID(raw)
    if isinstance(value, (str, int, float)) or value is None:
        return value
    raise ValueError("unsupported cursor value")


def encode_cursor(values: Sequence[Any], tag: str = "") -> str:
    raw = json.dumps([tag, *(_encode_value(v) for v in values)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _python_type(key: SortKey) -> type:
    try:
        python_type: type = key.expression.type.python_type
    except NotImplementedError:
        return object
    return python_type


def decode_cursor(cursor: str, keys: Sequence[SortKey], tag: str = "") -> list[Any]:
    """The key values a cursor carries, each checked against its key's type (a forged
    cursor must be a 422, not a database error)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(keys) + 1 or values[0] != tag:
            raise ValueError("cursor of another listing or sort order")
        decoded = [_decode_value(v) for v in values[1:]]
        for key, value in zip(keys, decoded, strict=True):
            expected = _python_type(key)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, expected) or (isinstance(value, bool) and expected is int):
                raise ValueError("cursor value of the wrong type")
        return decoded
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursor("the cursor is malformed or belongs to another listing") from error


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys`."""
    if len({k.descending for k in keys}) == 1:
        # One direction: a row-value comparison, which an index on the keys serves directly.
        row, bound = tuple_(*(k.expression for k in keys)), tuple_(*map(literal, values))
        return row < bound if keys[0].descending else row > bound
    clauses = []
    for i, key in enumerate(keys):
        equal_prefix = [keys[j].expression == values[j] for j in range(i)]
        beyond = key.expression < values[i] if key.descending else key.expression > values[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    *,
    keys: Sequence[SortKey],
    page: PageParams,
    tag: str = "",
) -> tuple[list[Any], str | None]:
    """One page of `statement` in the order of `keys`, whose last key must be unique: its
    objects if it selects one ORM entity (or column), else its rows (with the key values
    after the selected columns). `tag` names the ordering, so a cursor of one sort order is
    refused by another."""
    single = len(statement.column_descriptions) == 1
    if page.cursor is not None:
        statement = statement.where(_after(keys, decode_cursor(page.cursor, keys, tag)))
    order = [k.expression.desc() if k.descending else k.expression.asc() for k in keys]
    labelled = [k.expression.label(f"_page_key_{i}") for i, k in enumerate(keys)]
    statement = statement.add_columns(*labelled).order_by(*order).limit(page.limit + 1)
    result = await session.execute(statement)
    # Joined eager loads repeat an entity per related row; plain rows are already distinct.
    rows = list(result.unique().all() if single else result.all())
    items = [row[0] if single else row for row in rows[: page.limit]]
    if len(rows) <= page.limit:
        return items, None
    return items, encode_cursor(list(rows[page.limit - 1][-len(keys) :]), tag)
