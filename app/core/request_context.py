"""The request id, readable from anywhere so that every log line and problem+json answer of
a request names it. Nothing else about the request lives here: who the caller is travels
explicitly, as a `Principal` (see app.auth.principal)."""

from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)
