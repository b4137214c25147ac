"""Self-hosted Swagger UI, and the OpenAPI spec: committed copy, ids, tags, problem errors."""

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.api import DOMAIN_ROUTERS
from app.cli import OPENAPI_PATH, write_openapi
from app.config import Settings
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.main import create_app
from app.ops.router import router as ops_router

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in {"src", "href"} and value)


def referenced_urls(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.urls


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    rendered: dict[str, Any] = create_app(Settings(environment="test")).openapi()
    return rendered


# --- Swagger UI --------------------------------------------------------------------------


async def test_docs_page_is_served_by_the_app(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in response.text


async def test_docs_page_references_only_the_apps_own_assets(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    urls = referenced_urls(html)

    assert len(urls) >= 3  # stylesheet, favicon, script bundle
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
    assert "http://" not in html
    assert "https://" not in html
    assert "cdn" not in html.lower()
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url


async def test_docs_assets_have_their_media_types(client: httpx.AsyncClient) -> None:
    urls = referenced_urls((await client.get("/docs")).text)
    by_suffix = {Path(url).suffix: url for url in urls}

    css = await client.get(by_suffix[".css"])
    js = await client.get(by_suffix[".js"])

    assert css.headers["content-type"].startswith("text/css")
    assert "javascript" in js.headers["content-type"]


async def test_docs_page_is_wired_for_the_password_flow(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text

    assert re.search(r"""url:\s*['"]/openapi\.json['"]""", html)
    assert re.search(r'"persistAuthorization":\s*true', html)
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in html
    # Swagger UI would otherwise send the spec to validator.swagger.io.
    assert re.search(r'"validatorUrl":\s*null', html)

    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert redirect.headers["content-type"].startswith("text/html")
    assert "oauth2" in redirect.text.lower()
    assert "https://" not in redirect.text


async def test_served_spec_declares_the_oauth2_password_flow(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    served = response.json()
    schemes = served["components"]["securitySchemes"]
    password_schemes = {
        name: scheme
        for name, scheme in schemes.items()
        if scheme["type"] == "oauth2" and "password" in scheme["flows"]
    }
    assert len(password_schemes) == 1
    ((scheme_name, scheme),) = password_schemes.items()
    assert scheme["flows"]["password"]["tokenUrl"] == "/v1/auth/token"
    me = served["paths"]["/v1/me"]["get"]
    assert {scheme_name: []} in me["security"]


async def test_docs_are_not_in_the_spec_and_redoc_is_off(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()

    assert not [path for path in served["paths"] if path.startswith(("/docs", "/static"))]
    assert (await client.get("/redoc")).status_code == 404


# --- the spec ----------------------------------------------------------------------------


def test_committed_spec_is_up_to_date(tmp_path: Path) -> None:
    rendered = write_openapi(tmp_path / "openapi.json")

    assert OPENAPI_PATH.exists(), "openapi/openapi.json is missing: run `marketplace openapi`"
    committed = OPENAPI_PATH.read_text()
    assert committed == rendered, (
        "openapi/openapi.json is out of date with the code: run `marketplace openapi` "
        "and commit the result"
    )
    assert (tmp_path / "openapi.json").read_text() == rendered


async def test_served_spec_equals_the_committed_one(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()

    assert served == json.loads(OPENAPI_PATH.read_text()), "run `marketplace openapi`"


def test_every_operation_has_a_tagged_unique_operation_id_and_a_summary(
    spec: dict[str, Any],
) -> None:
    declared_tags = {tag["name"] for tag in spec["tags"]}
    seen: dict[str, str] = {}
    for method, path, operation in operations(spec):
        where = f"{method.upper()} {path}"
        tags = operation.get("tags")
        assert tags, f"{where} has no tag"
        assert set(tags) <= declared_tags, f"{where}: tag {tags} is not declared"
        operation_id = operation.get("operationId", "")
        assert re.fullmatch(r"[a-z][a-z0-9]*_[a-z][a-z0-9_]*", operation_id), where
        assert operation_id.startswith(f"{tags[0].replace('-', '_')}_"), where
        assert operation_id not in seen, f"{where} reuses {operation_id} of {seen[operation_id]}"
        seen[operation_id] = where
        assert operation.get("summary", "").strip(), f"{where} has no summary"
        assert operation.get("description", "").strip(), f"{where} has no docstring"
    assert len(seen) >= 10


def test_every_error_response_is_a_problem_document(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            where = f"{method.upper()} {path} {status}"
            content = response.get("content", {})
            assert set(content) == {PROBLEM_MEDIA_TYPE}, where
            assert content[PROBLEM_MEDIA_TYPE]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, where
            assert re.search(r"`[a-z_]+`", response["description"]), where


def test_problem_schema_documents_the_contract(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]

    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code"}
    assert "errors" in problem["properties"]


def test_fastapi_validation_schemas_are_gone(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)

    assert "HTTPValidationError" not in text
    assert "ValidationError" not in spec["components"]["schemas"]


def test_error_codes_declared_by_routes_survive_in_the_spec(spec: dict[str, Any]) -> None:
    """Codes a route lists with `error_responses(...)` (e.g. `idempotency_key_reused` on
    register) must still be in the spec after the common errors are merged in."""
    checked = 0
    for router in (*DOMAIN_ROUTERS, ops_router):
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for status, declared in route.responses.items():
                codes = re.findall(r"`([a-z_]+)`", str(declared.get("description", "")))
                for method in route.methods:
                    operation = spec["paths"][route.path][method.lower()]
                    documented = operation["responses"][str(status)]["description"]
                    for code in codes:
                        assert f"`{code}`" in documented, (
                            f"{method} {route.path} {status} lost `{code}`"
                        )
                        checked += 1
    assert checked > 0


def test_register_documents_idempotency_key_reuse(spec: dict[str, Any]) -> None:
    register = spec["paths"]["/v1/auth/register"]["post"]

    assert "`idempotency_key_reused`" in register["responses"]["422"]["description"]
    assert "`validation_error`" in register["responses"]["422"]["description"]
    assert any(
        p["name"] == "Idempotency-Key" and p["in"] == "header" for p in register["parameters"]
    )


# --- what the fuzzer holds the spec to -------------------------------------------------------


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object (every dict) under `node`."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _request_components(spec: dict[str, Any]) -> set[str]:
    """The components a request body reaches, transitively."""
    refs = re.compile(r'"#/components/schemas/([^"]+)"')
    bodies = [op["requestBody"] for _, _, op in operations(spec) if "requestBody" in op]
    found: set[str] = set()
    pending = set(refs.findall(json.dumps(bodies)))
    while pending:
        name = pending.pop()
        found.add(name)
        component = spec["components"]["schemas"][name]
        pending |= set(refs.findall(json.dumps(component))) - found
    return found


def test_every_429_documents_its_retry_after_header(spec: dict[str, Any]) -> None:
    limited = [op for _, _, op in operations(spec) if "429" in op["responses"]]

    assert len(limited) >= 4  # the login lockout and the message rate limit
    for operation in limited:
        header = operation["responses"]["429"]["headers"]["Retry-After"]
        assert header["required"] is True, operation["operationId"]
        assert header["schema"] == {"type": "integer", "minimum": 1}


def test_every_operation_that_needs_the_database_documents_its_outage(
    spec: dict[str, Any],
) -> None:
    for _, _, operation in operations(spec):
        responses = operation["responses"]
        if operation["operationId"] in {"ops_healthz", "ops_metrics"}:
            assert "503" not in responses  # answered from the process alone
            continue
        assert "database_unavailable" in responses["503"]["description"], operation["operationId"]
        assert responses["503"]["headers"]["Retry-After"]["required"] is True


def test_every_integer_query_parameter_is_bounded(spec: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            for schema in _walk(parameter["schema"]):
                if schema.get("type") == "integer":
                    where = f"{method.upper()} {path} {parameter['name']}"
                    assert "minimum" in schema, where
                    assert "maximum" in schema, where
                    checked += 1
    assert checked >= 2


def test_money_amounts_are_int64_and_bounded(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("Money", "PlatformMoney", "PositiveMoney", "SignedMoney"):
        amount = schemas[name]["properties"]["amount"]
        assert amount["type"] == "integer", name
        assert amount["format"] == "int64", name
        assert -(2**63) <= amount["minimum"] <= amount["maximum"] <= 2**63 - 1, name
    assert schemas["PositiveMoney"]["properties"]["amount"]["minimum"] == 1
    search = spec["paths"]["/v1/listings"]["get"]["parameters"]
    for bound in (p for p in search if p["name"] in ("min_price", "max_price")):
        assert {"type": "integer", "format": "int64"}.items() <= bound["schema"]["anyOf"][0].items()


def test_no_validation_constraint_is_left_unspelled(spec: dict[str, Any]) -> None:
    """A constraint pydantic cannot turn into JSON Schema comes out under its Python name
    (`ge`, `le`, ...), which no client reads."""
    for schema in _walk(spec["components"]["schemas"]):
        assert not {"ge", "le", "gt", "lt"} & schema.keys(), schema


def test_money_a_client_sends_is_in_the_platform_currency() -> None:
    spec = create_app(Settings(environment="test", currency="EUR")).openapi()
    schemas = spec["components"]["schemas"]

    for name in ("PlatformMoney", "PositiveMoney"):
        assert schemas[name]["properties"]["currency"]["enum"] == ["EUR"], name
        assert {e["currency"] for e in schemas[name]["examples"]} == {"EUR"}, name
        assert "x-platform-currency" not in json.dumps(schemas[name])
    # Money read back (balances, ledger, orders) is not restricted to it.
    assert "enum" not in schemas["Money"]["properties"]["currency"]
    assert {e["currency"] for e in schemas["Money"]["examples"]} == {"USD"}


# Formats whose values cannot hold a NUL anyway (or are files, where NUL is data).
_NUL_FREE_FORMATS = {"uuid", "date-time", "uri", "email", "binary"}


def _free_strings(node: Any) -> Iterator[dict[str, Any]]:
    for schema in _walk(node):
        if schema.get("type") == "string" or "propertyNames" in schema:
            string = schema.get("propertyNames", schema)
            if "enum" not in string and string.get("format") not in _NUL_FREE_FORMATS:
                yield string


def test_request_strings_refuse_nul_in_the_spec_as_the_api_does(spec: dict[str, Any]) -> None:
    """Every string a request carries (body, form or query string) has a pattern, and every
    such pattern refuses NUL, as the API does everywhere (PostgreSQL cannot store NUL)."""
    names = _request_components(spec)
    assert {"ListingCreate", "UserRegister", "ShippingAddress", "Body_auth_token"} <= names
    strings = [s for name in names for s in _free_strings(spec["components"]["schemas"][name])]
    for _, _, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                strings.extend(_free_strings(parameter["schema"]))

    assert len(strings) > 50
    for string in strings:
        assert "pattern" in string, string
        assert re.search(string["pattern"], "a\x00b") is None, string
