"""What browsers need from an API: CORS for the configured origins, and security headers.

Both are pure ASGI middleware, outermost, so that errors (problem+json, the last-resort 500,
the 413 of the body limit) carry the same headers as successes: a frontend can read the
error of a refused request only if the error itself carries the CORS headers.
"""

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError, render_error

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
)
# Response headers a frontend's script may read (the CORS-safelisted ones need no mention).
EXPOSED_RESPONSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-ID",
    "Idempotent-Replayed",
)
PREFLIGHT_MAX_AGE_SECONDS = 600


class CorsPreflightRefused(AppError):
    status, code, title = 400, "cors_preflight_refused", "CORS preflight refused"


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as problem+json like every other
    error (Starlette answers it in plain text)."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_REQUEST_HEADERS,
            expose_headers=EXPOSED_RESPONSE_HEADERS,
            # Credentials (cookies) with "any origin" would let every site act as the user.
            allow_credentials="*" not in origins,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # A lifespan scope has no headers: reading them failed the app's startup, so
            # `serve` ran without its in-process worker.
            await super().__call__(scope, receive, send)
            return
        headers = Headers(scope=scope)
        is_preflight = (
            scope["method"] == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        )
        if not is_preflight:
            await super().__call__(scope, receive, send)
            return
        response = self.preflight_response(request_headers=headers)
        if response.status_code == 400:
            # Starlette's body names what was refused ("Disallowed CORS origin, method").
            refused = CorsPreflightRefused(bytes(response.body).decode())
            response = render_error(Request(scope), refused)
        await response(scope, receive, send)


# Framing, sniffing and referrers: the API's answers are data, never pages to embed.
_COMMON_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)
# Anything that carries a token, a secret or personal data must stay out of shared caches;
# responses that are safe to cache say so themselves (media files).
_API_HEADERS = (
    ("x-frame-options", "DENY"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("cache-control", "no-store"),
)
# The console is a page: its own scripts and styles (Swagger UI initialises inline), its
# own origin for the spec and "Try it out", and nothing from anywhere else.
_DOCS_HEADERS = (
    ("x-frame-options", "SAMEORIGIN"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'self'",
    ),
)
_HSTS = ("strict-transport-security", "max-age=63072000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Security headers on every response (a header the app set itself is kept); the docs
    pages get a page's policy."""

    def __init__(
        self, app: ASGIApp, *, docs_prefixes: tuple[str, ...], strict_transport: bool
    ) -> None:
        self.app = app
        self.docs_prefixes = docs_prefixes
        self.strict_transport = strict_transport

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_docs = scope["path"].startswith(self.docs_prefixes)
        extra = [*_COMMON_HEADERS, *(_DOCS_HEADERS if is_docs else _API_HEADERS)]
        if self.strict_transport:
            extra.append(_HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", ()))
                headers = MutableHeaders(raw=raw)
                for name, value in extra:
                    headers.setdefault(name, value)
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
