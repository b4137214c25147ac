"""Where the public API lives, and how hot read paths answer."""

from typing import Any

from fastapi import Response
from pydantic import BaseModel

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
