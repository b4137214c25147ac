"""Pydantic bases and strict scalar types shared by every domain."""

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

# What the schema says of every request string the `RequestSchema` base refuses NUL in.
# A string with its own `pattern` must exclude NUL itself (tests/ops checks the whole spec).
NO_NUL_PATTERN = r"^[^\x00]*$"
# White space as any of the regex engines involved has it (pydantic's, Python's, the
# ECMA-262 one JSON Schema names), spelled out so that they all agree on what is blank.
_BLANK = (
    r"\t\n\x0b\x0c\r \x1c-\x1f\x85\xa0"
    r"\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# At least one character that is neither blank nor NUL, and no NUL anywhere.
NOT_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$"


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# email-validator refuses addresses in the special-use domains (RFC 6761: `.test`, `.local`,
# ...; mail there never arrives), which `format: email` alone admits: the spec says so.
Email = Annotated[
    EmailStr,
    Field(
        json_schema_extra={
            "not": {"pattern": rf"\.(?:{'|'.join(map(_any_case, SPECIAL_USE_DOMAIN_NAMES))})$"}
        }
    ),
]


def _whole_number(value: object) -> object:
    """`1` and `1.0` are the same JSON number (JSON Schema's `integer` admits both), so a
    whole float becomes an int; strict validation still refuses strings, booleans and
    fractions."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE_NUMBER = BeforeValidator(_whole_number)
"""The last metadata of every request integer, after its strict `Field`:
`Annotated[int, Field(strict=True, ge=1), WHOLE_NUMBER]` is an integer as JSON has it, never
coerced from `"5"` or `true`. (Constraints written after it would not reach the spec.)"""


def _query_bool(value: object) -> object:
    """A query string carries text, so `true`/`false` (how OpenAPI clients write a boolean
    parameter) are read as booleans; "1", "yes", "on" and the like are refused, as a
    boolean in a body must be a JSON boolean."""
    if value == "true":
        return True
    if value == "false":
        return False
    if isinstance(value, bool):
        return value
    raise ValueError("Input should be `true` or `false`")


QueryBool = Annotated[StrictBool, BeforeValidator(_query_bool)]

RFC_3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
_RFC_3339 = re.compile(RFC_3339)


def _rfc_3339(value: object) -> object:
    """Only an RFC 3339 date-time with its offset (not a bare date, a number or a local
    time, which the datetime parser would also take): the spec's `pattern` is the rule."""
    if isinstance(value, str) and not _RFC_3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with an offset, e.g. 2026-12-07T10:00:00Z")
    return value


Rfc3339 = Annotated[
    datetime,
    BeforeValidator(_rfc_3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC_3339}),
]
"""A query parameter's moment: RFC 3339, with its offset."""


class Schema(BaseModel):
    """Base of response models: built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class ActionRead(Schema):
    """One thing the caller may do now, with the moment the chance ends (null: no deadline).
    The `actions` of a resource carry the same names as its `allowed_actions`, in order."""

    name: str
    deadline: datetime | None


# Client-visible deprecations are listed in the README's changelog with the date from which
# the old name may go; the spec marks the field `deprecated`.
DEPRECATED_SELLER_ID_SUNSET = "2027-06-01"
DeprecatedSellerId = Annotated[
    uuid.UUID,
    Field(
        description=(
            "Deprecated: the shop's id under its old name; read `shop_id` (removed no earlier "
            f"than {DEPRECATED_SELLER_ID_SUNSET})"
        ),
        json_schema_extra={"deprecated": True},
    ),
]
ShopId = Annotated[uuid.UUID, Field(description="The shop's id (a seller profile, not a user)")]


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_contains_nul(item) for item in value)
    return False


def _string_schemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every string schema inside one field's schema, nested models aside (they are `$ref`s,
    documented where they are defined)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _string_schemas(item)
    elif isinstance(schema, dict):
        if schema.get("type") == "string":
            yield schema
        if isinstance(schema.get("additionalProperties"), dict):
            # A dict: its keys are strings too, whether or not the schema says anything of them.
            yield schema.setdefault("propertyNames", {})
        for key, sub in schema.items():
            if key not in ("examples", "default", "const", "enum"):
                yield from _string_schemas(sub)


def _admits_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return (
        kind == "null"
        or (isinstance(kind, list) and "null" in kind)
        or any(_admits_null(branch) for branch in schema.get("anyOf", ()))
    )


class RequestSchema(BaseModel):
    """Base of request bodies: unknown fields are refused (so nobody slips `"role": "admin"`
    into a PATCH), and NUL characters too, anywhere in the body (PostgreSQL text and jsonb
    cannot store them), which the schema says as a `pattern` on each free string. Nothing is
    stripped or rewritten silently. Booleans and integers are strict: `StrictBool`, and
    `WHOLE_NUMBER` after a strict `Field` (tests/core/test_schemas.py checks every body)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        if _contains_nul(value):
            raise ValueError("NUL characters are not allowed")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler.resolve_ref_schema(handler(core_schema))
        properties: dict[str, Any] = json_schema.get("properties", {})
        for prop in properties.values():
            for string in _string_schemas(prop):
                if not string.keys() & {"pattern", "format", "enum", "const"}:
                    string["pattern"] = NO_NUL_PATTERN
            # An optional field that may be left out but not nulled (`X | SkipJsonSchema[None]
            # = None`): null is not its default, it is refused.
            if "default" in prop and prop["default"] is None and not _admits_null(prop):
                del prop["default"]
        return json_schema


def given_whenever(field: str, *, any_of: tuple[str, ...]) -> dict[str, Any]:
    """JSON Schema (for a model's `json_schema_extra`) of a rule its validator enforces:
    `field` is given, and not null, whenever one of `any_of` is."""
    return {
        "allOf": [
            {
                "if": {"properties": {trigger: {"not": {"type": "null"}}}, "required": [trigger]},
                "then": {"required": [field], "properties": {field: {"not": {"type": "null"}}}},
            }
            for trigger in any_of
        ]
    }


def given_exactly_when(field: str, *, when: str, equals: str) -> dict[str, Any]:
    """JSON Schema (for a model's `json_schema_extra`) of a rule its validator enforces:
    `field` is given, and not null, exactly when `when` is `equals`."""
    return {
        "if": {"properties": {when: {"const": equals}}, "required": [when]},
        "then": {"required": [field], "properties": {field: {"not": {"type": "null"}}}},
        "else": {"properties": {field: {"type": "null"}}},
    }


ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page, null on the last page"
    )


def page_of(
    rows: Iterable[RowT], next_cursor: str | None, present: Callable[[RowT], ItemT]
) -> Page[ItemT]:
    """The page every list answers with: each row as its presenter shows it, and the cursor
    of the next page."""
    return Page(items=[present(row) for row in rows], next_cursor=next_cursor)
