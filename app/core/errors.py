"""Errors as classes that know their status, code and title, rendered as RFC 9457 problems.

Every error the API can answer, framework ones included, goes through `problem_response`,
so clients can rely on one shape: `type`, `title`, `status`, `detail`, `code`, `instance`,
`request_id` and, for validation, `errors`.
"""

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


class AppError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    # True when the transaction must be committed even though the request is refused
    # (e.g. a failed login is counted, a reused refresh token revokes its family).
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class InvalidTransition(AppError):
    status, code, title = 409, "invalid_transition", "Invalid state transition"


class MalformedJson(AppError):
    status, code, title = 400, "malformed_json", "Malformed JSON"

    def __init__(self) -> None:
        super().__init__("The request body is not valid UTF-8 JSON.")


class InternalError(AppError):
    status, code, title = 500, "internal_error", "Internal server error"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class UnprocessableEntity(AppError):
    status, code, title = 422, "unprocessable_entity", "Unprocessable request"


class ValidationFailed(AppError):
    """A field-level refusal decided by a service (it needs data the schema cannot see);
    shaped exactly like the framework's own validation errors."""

    status, code, title = 422, "validation_error", "Validation failed"

    def __init__(self, loc: list[str | int], msg: str) -> None:
        super().__init__(
            "1 field(s) failed validation", extra={"errors": [{"loc": loc, "msg": msg}]}
        )


class TooManyRequests(AppError):
    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_seconds))})


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["urn:marketplace:problem:not_found"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code")
    instance: str | None = None
    request_id: str | None = None
    errors: list[ValidationIssue] | None = None


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:marketplace:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


# Framework HTTP errors (routing 404/405 and the like) mapped to our stable codes.
_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _route_reads_form(request: Request) -> bool:
    body_field = getattr(request.scope.get("route"), "body_field", None)
    return body_field is not None and isinstance(body_field.field_info, params.Form)


def _is_json_content_type(value: str) -> bool:
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def render_error(request: Request, error: AppError) -> JSONResponse:
    return problem_response(
        request,
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        headers=error.headers,
        extra=error.extra,
    )


def _malformed_json(request: Request) -> JSONResponse:
    return render_error(request, MalformedJson())


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return render_error(request, exc)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers 400 when it cannot parse a body at all (e.g. JSON that is not UTF-8).
    if exc.status_code == 400 and _is_json_content_type(request.headers.get("content-type", "")):
        return _malformed_json(request)
    phrase = HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(
        request,
        status=exc.status_code,
        code=_HTTP_CODES.get(exc.status_code, "http_error"),
        title=phrase,
        detail=str(exc.detail) if exc.detail else phrase,
        headers=headers,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. The router's own 405 names only the
    methods of the first route that matched the path, and one path may be served by routes of
    several routers (`/v1/me`: the account's GET and PATCH, privacy's DELETE)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[Any] = exc.errors()
    content_type = request.headers.get("content-type")
    expects_body = any(err.get("loc", ())[:1] == ("body",) for err in errors)
    if (
        expects_body
        and content_type
        and not _is_json_content_type(content_type)
        and not _route_reads_form(request)
    ):
        # A JSON endpoint was sent something else: say so rather than list field errors.
        return await _app_error_handler(
            request, UnsupportedMediaType(f"expected application/json, got {content_type}")
        )
    if any(err.get("type") == "json_invalid" for err in errors):
        return _malformed_json(request)
    issues = [
        {
            "loc": [str(part) if not isinstance(part, int) else part for part in err["loc"]],
            "msg": err["msg"],
        }
        for err in errors
    ]
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="Validation failed",
        detail=f"{len(issues)} field(s) failed validation",
        extra={"errors": issues},
    )


def internal_error_response(request: Request) -> JSONResponse:
    """The 500 answer: the client gets the request id, never the traceback."""
    return render_error(
        request,
        InternalError("An unexpected error occurred. Quote the request_id when reporting it."),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each listed error, documented as problem+json."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": " / ".join(f"`{e.code}`: {e.title}" for e in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, group in sorted(by_status.items())
    }
