"""Per-request context readable from anywhere: the request id (logs include it) and, for
requests made with an API key, its scopes."""

from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


_api_key_scopes: ContextVar[frozenset[str] | None] = ContextVar("api_key_scopes", default=None)


def api_key_scopes() -> frozenset[str] | None:
    """The scopes of the API key the current request authenticated with; None when it came
    with an access token or no credentials (or outside any request: the worker, the CLI)."""
    return _api_key_scopes.get()


def acting_through_api_key() -> bool:
    """An API key is a seller's integration: it acts for the shop only, never as its owner's
    buyer or admin self (services narrow the caller's roles on it)."""
    return _api_key_scopes.get() is not None


def set_api_key_scopes(scopes: frozenset[str] | None) -> None:
    _api_key_scopes.set(scopes)
