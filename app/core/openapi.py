"""OpenAPI shaping: readable operationIds and problem+json errors everywhere."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app.core.errors import PROBLEM_MEDIA_TYPE, Problem
from app.core.idempotency import IDEMPOTENCY_HEADER, REQUIRED_MARKER
from app.core.money import PLATFORM_CURRENCY_MARKER
from app.core.ratelimit import RETRY_AFTER_HEADER, document_rate_limits

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def operation_id(route: APIRoute) -> str:
    """`<tag>_<function name>`, e.g. `auth_register`: these become generated client methods."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag.replace('-', '_')}_{route.name}"


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(components["Problem"].pop("$defs", {}))
    # FastAPI documents its 422 with its own schema; ours is a problem document.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    _pin_platform_currency(components, app.state.settings.currency)
    document_rate_limits(schema, app.state.settings)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            _document_common_errors(operation)
            _require_idempotency_key(operation)
    return schema


def _pin_platform_currency(components: dict[str, Any], currency: str) -> None:
    """Money a client sends must be in the deployment's currency: the served spec names it
    (and its examples use it)."""
    for component in components.values():
        properties = component.get("properties", {})
        if properties.get("currency", {}).pop(PLATFORM_CURRENCY_MARKER, False):
            properties["currency"]["enum"] = [currency]
            if "examples" in component:  # shared with the model's config: replaced, not edited
                component["examples"] = [
                    {**example, "currency": currency} for example in component["examples"]
                ]


def _require_idempotency_key(operation: dict[str, Any]) -> None:
    """The key is optional to FastAPI (a missing one answers 400 `idempotency_key_required`,
    not a validation error) but required by these operations: say so, so that generated
    clients make it a required argument."""
    if not operation.pop(REQUIRED_MARKER, False):
        return
    for parameter in operation.get("parameters", []):
        if parameter["name"] == IDEMPOTENCY_HEADER:
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 255}


# Liveness and metrics are answered from the process alone.
_NEEDS_NO_DATABASE = {"ops_healthz", "ops_metrics"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}


def _document_common_errors(operation: dict[str, Any]) -> None:
    """Errors any operation can answer, documented as the problem+json they are."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses:
        declared = responses["422"].get("description", "")
        validation = "`validation_error`: the request failed validation"
        # FastAPI's own 422 says "Validation Error"; a route may have declared others too.
        responses["422"] = _problem(
            validation if declared == "Validation Error" else f"{declared} / {validation}"
        )
    if "requestBody" in operation:
        responses.setdefault("400", _problem("`malformed_json`: the body is not valid JSON"))
        responses.setdefault("413", _problem("`payload_too_large`: the body exceeds the limit"))
        responses.setdefault(
            "415", _problem("`unsupported_media_type`: the body is not of the expected type")
        )
    if "security" in operation:
        # Any authenticated operation may be called with an API key outside its scopes.
        scope = "`insufficient_scope`: the API key's scopes do not allow this"
        if "403" in responses:
            responses["403"]["description"] += f" / {scope}"
        else:
            responses["403"] = _problem(scope)
    responses.setdefault("500", _problem("`internal_error`: quote the request_id when reporting"))
    if operation.get("operationId") not in _NEEDS_NO_DATABASE:
        # While the database is out of reach, the answer says when to come back.
        outage = responses.setdefault(
            "503", _problem("`database_unavailable`: the database cannot be reached")
        )
        outage.setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER
    if "429" in responses:
        # Every 429 is a TooManyRequests, which always says when to come back.
        responses["429"].setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER
