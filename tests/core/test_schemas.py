"""The request-schema base and strict scalars: what every body and query string gets, and the
one-place guarantees that no route can miss (found by the fuzzer: `{"is_admin": 1}` granted
admin, `"no"` revoked it)."""

import re
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from app.api import DOMAIN_ROUTERS
from app.core.schemas import (
    NO_NUL_PATTERN,
    NOT_BLANK_PATTERN,
    WHOLE_NUMBER,
    QueryBool,
    RequestSchema,
)


def _body_routes() -> list[APIRoute]:
    return [
        route
        for router in DOMAIN_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.body_field is not None
    ]


def _lax_scalars(schema: Any, path: str, *, whole: bool = False) -> Iterator[str]:
    """Where a core schema validates a bool without `strict`, or an int without `strict` or
    without WHOLE_NUMBER in front of it."""
    if isinstance(schema, list):
        for item in schema:
            yield from _lax_scalars(item, path)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind == "bool" and not schema.get("strict"):
        yield f"{path}: bool"
    if kind == "int" and not (schema.get("strict") and whole):
        yield f"{path}: int"
    wraps_whole = kind == "function-before" and schema["function"]["function"] is WHOLE_NUMBER.func
    for key, sub in schema.items():
        if key not in ("metadata", "serialization", "function"):
            yield from _lax_scalars(sub, f"{path}/{key}", whole=wraps_whole)


def test_there_are_request_bodies_to_check() -> None:
    assert len(_body_routes()) > 40


@pytest.mark.parametrize("route", _body_routes(), ids=lambda r: f"{r.methods} {r.path}")
def test_every_request_body_takes_booleans_and_integers_strictly(route: APIRoute) -> None:
    assert route.body_field is not None
    core_schema = TypeAdapter(route.body_field.field_info.annotation).core_schema

    assert list(_lax_scalars(core_schema, route.path)) == []


class Sample(RequestSchema):
    flag: Annotated[bool, Field(strict=True)] = False
    count: Annotated[int, Field(strict=True, ge=0, le=10), WHOLE_NUMBER] = 0
    text: str = ""
    tags: dict[str, list[str]] = Field(default_factory=dict)


@pytest.mark.parametrize("value", [1, 0, "true", "false", "no", None, "1"])
def test_a_body_boolean_is_a_json_boolean(value: object) -> None:
    with pytest.raises(ValidationError):
        Sample.model_validate({"flag": value})


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (3.0, 3), (10.0, 10)])
def test_a_body_integer_may_be_written_as_a_whole_float(value: object, expected: int) -> None:
    """`3` and `3.0` are one JSON number; JSON Schema's `integer` admits both."""
    assert Sample.model_validate({"count": value}).count == expected


@pytest.mark.parametrize("value", ["3", 3.5, True, 11.0, float("nan"), float("inf")])
def test_a_body_integer_is_never_coerced(value: object) -> None:
    with pytest.raises(ValidationError):
        Sample.model_validate({"count": value})


@pytest.mark.parametrize(
    "body",
    [
        {"text": "a\x00b"},
        {"tags": {"k": ["ok", "a\x00"]}},
        {"tags": {"k\x00": []}},
    ],
    ids=["string", "nested-value", "key"],
)
def test_nul_is_refused_anywhere_in_a_body(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="NUL characters are not allowed"):
        Sample.model_validate(body)


def test_the_schema_says_nul_is_refused() -> None:
    properties = Sample.model_json_schema()["properties"]

    assert properties["text"]["pattern"] == NO_NUL_PATTERN
    assert properties["tags"]["additionalProperties"]["items"]["pattern"] == NO_NUL_PATTERN
    assert properties["tags"]["propertyNames"]["pattern"] == NO_NUL_PATTERN


class QueryParams(BaseModel):
    flag: QueryBool = False


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False)])
def test_a_query_boolean_is_true_or_false(text: str, expected: bool) -> None:
    assert QueryParams.model_validate({"flag": text}).flag is expected


@pytest.mark.parametrize("text", ["1", "0", "yes", "no", "on", "True", "FALSE", "", "t"])
def test_other_spellings_of_a_query_boolean_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="`true` or `false`"):
        QueryParams.model_validate({"flag": text})


BLANK = ["", " ", "\t\n", "\x85", "\ufeff", "\x1c", "\u3000 \u2028", "\xa0"]
NOT_BLANK = ["a", " a ", "\u200b", "x\ty"]


@pytest.mark.parametrize("text", BLANK + NOT_BLANK + ["a\x00", "\x00"])
def test_python_and_pydantic_agree_on_the_not_blank_pattern(text: str) -> None:
    """One pattern, read by pydantic (Rust), by Python and by the fuzzer's JSON Schema
    engine: white space is spelled out so that they all mean the same by "blank"."""
    by_pydantic = True
    try:
        TypeAdapter(Annotated[str, Field(pattern=NOT_BLANK_PATTERN)]).validate_python(text)
    except ValidationError:
        by_pydantic = False

    assert by_pydantic is bool(re.search(NOT_BLANK_PATTERN, text))
    assert by_pydantic is (text in NOT_BLANK)
