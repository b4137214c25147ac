"""Pure ASGI middleware (no BaseHTTPMiddleware: it runs the app in another task, which
breaks context variables and streaming)."""

import logging
import re
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import database_unavailable
from app.core.errors import PayloadTooLarge, internal_error_response, render_error
from app.core.observability import Metrics
from app.core.request_context import set_request_id

access_logger = logging.getLogger("app.access")
error_logger = logging.getLogger("app.errors")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Request id in and out, access log, metrics by route template, and the last-resort
    answer: 503 when the database is out of reach, otherwise 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Request(scope).headers.get("x-request-id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        set_request_id(request_id)
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            unavailable = database_unavailable(error)
            if unavailable is None:
                error_logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            else:
                error_logger.warning(
                    "database unreachable on %s %s: %r", scope["method"], scope["path"], error
                )
            if response_started:
                raise
            answer = (
                internal_error_response(Request(scope))
                if unavailable is None
                else render_error(Request(scope), unavailable)
            )
            await answer(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.observe(
                method=scope["method"], route=template, status=status, seconds=elapsed
            )
            access_logger.info(
                "%s %s %s",
                scope["method"],
                template,
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            set_request_id(None)


class BodyLimitMiddleware:
    """Answers 413 before the app sees a body over the limit.

    The body is buffered (at most `max_bytes`), so the check also covers chunked uploads that
    announce no Content-Length; the app then reads the buffered body as usual.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_multipart_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_multipart_bytes = max(max_bytes, max_multipart_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Request(scope).headers
        multipart = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.max_multipart_bytes if multipart else self.max_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._reject(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = PayloadTooLarge(
            f"the request body exceeds {limit} bytes", headers={"Connection": "close"}
        )
        await render_error(Request(scope), error)(scope, receive, send)
