"""Where the public API lives, how hot read paths answer, and what every route of the API
gets without declaring it (see `app.api`)."""

import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.core.errors import AppError, error_responses

# Each domain router carries the full prefix itself (rather than being nested under a
# prefixed parent) so that a route's own `path` is the template metrics and logs report.
API_PREFIX = "/v1"

# A file in the OpenAPI document: `format: binary` is what generated clients turn into a
# file argument or a bytes result (FastAPI alone writes only `contentMediaType`).
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}


def model_response(model: BaseModel) -> Response:
    """A model already validated on construction, serialised once. Returning the model
    itself would have FastAPI dump it and validate the result against `response_model`
    again, which on a page of listings costs more than the database query; the route keeps
    `response_model` for the OpenAPI document."""
    return Response(model.model_dump_json(), media_type="application/json")


# --- changing routes that are already declared ---------------------------------------------

# What APIRoute's constructor takes, each kept on the route under the same name.
_ROUTE_ARGUMENTS = tuple(
    name
    for name in inspect.signature(APIRoute.__init__).parameters
    if name not in {"self", "path", "endpoint"}
)


def rebuilt(route: APIRoute, **changes: Any) -> APIRoute:
    """`route` built again with some of its arguments changed (`endpoint`, `dependencies`,
    `responses`...). A route computes its dependencies, parameters and documentation when it
    is built, so a change must go through the constructor; this way every other argument is
    carried over, including ones a later FastAPI adds."""
    arguments = {name: getattr(route, name) for name in _ROUTE_ARGUMENTS}
    arguments.update(changes)
    endpoint = arguments.pop("endpoint", route.endpoint)
    return type(route)(route.path, endpoint, **arguments)


def with_error_responses(
    responses: dict[int | str, dict[str, Any]], *errors: type[AppError]
) -> dict[int | str, dict[str, Any]]:
    """`responses=` with `errors` documented too: a status already documented gets their
    codes added to its description."""
    merged = dict(responses)
    for status, documented in error_responses(*errors).items():
        key = next((k for k in (status, str(status)) if k in merged), status)
        if key not in merged:
            merged[key] = documented
            continue
        existing = dict(merged[key])
        existing["description"] = f"{existing.get('description', '')} / {documented['description']}"
        existing.setdefault("content", documented["content"])
        merged[key] = existing
    return merged


def dependants(dependant: Dependant) -> Iterator[Dependant]:
    """`dependant` and every dependency under it, depth first."""
    pending = [dependant]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(current.dependencies)


def _unknown_query_check(known: frozenset[str]) -> Callable[[Request], Awaitable[None]]:
    # Async, though it never awaits: FastAPI runs a plain function dependency in a worker
    # thread, and this one runs on every request of the API.
    async def refuse_unknown_query_parameters(request: Request) -> None:
        unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
        if unknown:
            raise RequestValidationError(
                [
                    {
                        "type": "extra_forbidden",
                        "loc": ("query", name),
                        "msg": "Unknown query parameter",
                        "input": request.query_params[name],
                    }
                    for name in unknown
                ]
            )

    return refuse_unknown_query_parameters


def refuse_unknown_query_parameters(router: APIRouter) -> None:
    """Every route of `router` answers 422 `validation_error` to a query parameter it does
    not declare, as a body does to an unknown field (API.md): a misspelt filter must not
    silently widen a search or a list to everything."""
    for index, route in enumerate(router.routes):
        if not isinstance(route, APIRoute):
            continue
        known = frozenset(
            field.alias
            for dependant in dependants(route.dependant)
            for field in dependant.query_params
        )
        check = Depends(_unknown_query_check(known))
        router.routes[index] = rebuilt(route, dependencies=[*route.dependencies, check])
