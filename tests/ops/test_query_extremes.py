"""Query strings are validated like bodies (API.md): every query parameter of every operation
in the served spec, sent at and past its bounds — as an anonymous caller, an admin and a
seller — answers below 500, a 4xx is a problem document, and what the spec says is out of
range is refused with 422 `validation_error`. So is a parameter the operation does not
declare."""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import PROBLEM_MEDIA_TYPE
from tests.factories.accounts import admin_user
from tests.factories.sellers import approved_seller

Json = dict[str, Any]

HUGE = "9" * 1000  # past any integer type, and past Python's int() digit limit's neighbourhood
UNKNOWN = "no_such_parameter"


@dataclass(frozen=True)
class Probe:
    name: str
    values: list[str]
    invalid: bool
    """Out of what the spec allows: must be 422 `validation_error`."""


def _resolve(spec: Json, schema: Json) -> Json:
    """The non-null branch of an optional parameter, with `$ref`s followed."""
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        assert len(branches) == 1, schema
        return {**_resolve(spec, branches[0]), **{k: v for k, v in schema.items() if k != "anyOf"}}
    if "$ref" in schema:
        return _resolve(spec, spec["components"]["schemas"][schema["$ref"].split("/")[-1]])
    return schema


def _string_is_valid(schema: Json, value: str) -> bool:
    if "\x00" in value:
        return False  # whatever the schema, no NUL anywhere (API.md)
    if "enum" in schema:
        return value in schema["enum"]
    if schema.get("format") == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


def _probes(spec: Json, name: str, raw: Json) -> Iterator[Probe]:
    schema = _resolve(spec, raw)
    kind = schema.get("type", "string")
    if kind == "integer":
        low, high = schema["minimum"], schema["maximum"]
        for value in (low, high):
            yield Probe(name, [str(value)], invalid=False)
        for bad in (low - 1, high + 1, 2**63, -(2**63) - 1, HUGE, f"-{HUGE}", "1.5", ""):
            yield Probe(name, [str(bad)], invalid=True)
    elif kind == "boolean":
        for value in ("true", "false"):
            yield Probe(name, [value], invalid=False)
        for bad in ("1", "yes", "True", ""):
            yield Probe(name, [bad], invalid=True)
    elif kind == "array":
        item = _resolve(spec, schema["items"])
        # An item within its own bounds (a coupon code has at least three characters).
        good = item["enum"][0] if "enum" in item else "a" * item.get("minLength", 1)
        # Unbounded, a list must still be refused past some length (and the bounds test
        # below fails): a thousand items stand for "too many".
        most = schema.get("maxItems", 999)
        yield Probe(name, [good] * most, invalid="maxItems" not in schema)
        yield Probe(name, [good] * (most + 1), invalid=True)
        yield Probe(name, ["\x00"], invalid=True)
    else:
        assert kind == "string", (name, schema)
        candidates = ["", "a\x00b", "\x00"]
        if "maxLength" in schema:
            candidates += ["a" * schema["maxLength"], "a" * (schema["maxLength"] + 1)]
        if "enum" in schema:
            candidates += [schema["enum"][0], f"{schema['enum'][0]}x"]
        else:
            candidates.append("a" * 10_000)  # bounded by a pattern or format, if not a length
        for value in candidates:
            yield Probe(name, [value], invalid=not _string_is_valid(schema, value))


def _operations(spec: Json) -> Iterator[tuple[str, str, list[Json]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            parameters = operation.get("parameters", [])
            if any(p["in"] == "query" for p in parameters):
                yield method.upper(), path, parameters


def _concrete(path: str, parameters: list[Json]) -> str:
    for parameter in parameters:
        if parameter["in"] == "path":
            value = str(uuid.uuid4()) if parameter["schema"].get("format") == "uuid" else "x"
            path = path.replace(f"{{{parameter['name']}}}", value)
    return path


def _judge(
    where: str, response: httpx.Response, *, invalid: bool, baseline: httpx.Response
) -> str | None:
    """What is wrong with `response`, if anything."""
    status = response.status_code
    if status >= 500:
        return f"{where}: {status} {response.text[:200]}"
    if status >= 400 and not response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE):
        return f"{where}: {status} is not a problem document"
    code = response.json().get("code") if status >= 400 else None
    refused_by_validation = status == 422 and code == "validation_error"
    if invalid:
        # Refused, by validation, or by what the caller meets first (401, 403, 404) without
        # the parameter at all: the same answer as without it.
        same_as_baseline = (
            baseline.status_code >= 400
            and status == baseline.status_code
            and code == baseline.json().get("code")
        )
        if not (refused_by_validation or same_as_baseline):
            return f"{where}: out of range, answered {status} {code}"
    elif refused_by_validation and baseline.is_success:
        return f"{where}: within range, refused: {response.text[:200]}"
    return None


async def _headers_for(
    caller: str, client: httpx.AsyncClient, session: AsyncSession
) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    admin = await admin_user(client, session)
    if caller == "admin":
        return admin.headers
    seller, _ = await approved_seller(client, session, admin=admin)
    return seller.headers


@pytest.mark.parametrize("caller", ["anonymous", "admin", "seller"])
async def test_every_query_parameter_at_and_past_its_bounds(
    client: httpx.AsyncClient, session: AsyncSession, caller: str
) -> None:
    spec = (await client.get("/openapi.json")).json()
    headers = await _headers_for(caller, client, session)
    failures: list[str] = []
    probed = 0
    for method, template, parameters in _operations(spec):
        url = _concrete(template, parameters)
        baseline = await client.request(method, url, headers=headers)
        probes = [
            probe
            for parameter in parameters
            if parameter["in"] == "query"
            for probe in _probes(spec, parameter["name"], parameter["schema"])
        ]
        probes.append(Probe(UNKNOWN, ["1"], invalid=True))
        for probe in probes:
            params: list[tuple[str, str | int | float | bool | None]] = [
                (probe.name, value) for value in probe.values
            ]
            response = await client.request(method, url, params=params, headers=headers)
            where = f"{caller} {method} {template}?{probe.name}={probe.values!r:.60}"
            failure = _judge(where, response, invalid=probe.invalid, baseline=baseline)
            if failure is not None:
                failures.append(failure)
            probed += 1

    assert probed > 300
    assert not failures, "\n".join(failures)


async def test_every_list_and_integer_query_parameter_is_bounded(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    unbounded: list[str] = []
    for method, path, parameters in _operations(spec):
        for parameter in parameters:
            if parameter["in"] != "query":
                continue
            schema = _resolve(spec, parameter["schema"])
            where = f"{method} {path} {parameter['name']}"
            if schema.get("type") == "array" and "maxItems" not in schema:
                unbounded.append(f"{where}: no maxItems")
            if schema.get("type") == "integer" and not {"minimum", "maximum"} <= schema.keys():
                unbounded.append(f"{where}: no minimum or maximum")

    assert not unbounded, "\n".join(unbounded)
