"""Per-client request budgets: the policy is a table of rules, enforced by one ASGI middleware
and documented in the spec from the same table.

The windows are `limits`' moving window: at most N requests in any period of the rule's
length, so a client cannot spend two budgets back to back around a window edge (a fixed
window allows 2N there, which is what a password guesser would time). Budgets live in
process memory, or in Redis when `MARKETPLACE_REDIS_URL` is set, so that every process of a
deployment spends from the same one.
"""

import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.core.errors import PROBLEM_MEDIA_TYPE, TooManyRequests, render_error
from app.core.security import InvalidToken, TokenType, decode_token, hash_token

logger = logging.getLogger(__name__)

# Redis answers in well under a millisecond; waiting longer only delays the request that
# will be served anyway (the limiter fails open).
REDIS_TIMEOUT_SECONDS = 0.5
# After a storage failure, requests are served unlimited this long before Redis is tried
# again: during an outage each request would otherwise pay the timeouts and log a warning.
STORAGE_RETRY_SECONDS = 5.0
# IPv6 hands a single subscriber a /64; counting its addresses one by one would give a
# client 2^64 budgets.
IPV6_CLIENT_PREFIX = 64
# A hash prefix names an API key in the storage: enough bits never to merge two keys,
# without writing a key's full digest (what the database stores) anywhere else.
API_KEY_DIGEST_CHARS = 32


class RateLimitExceeded(TooManyRequests):
    code, title = "rate_limited", "Rate limit exceeded"


class KeyKind(StrEnum):
    address = "address"
    """The client's network address: for endpoints a caller reaches before (or to prove) who
    they are."""
    client = "client"
    """The user of a valid access token, or the API key; else the address. Two people
    behind one address then keep separate budgets."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    key: KeyKind
    limit: Callable[[Settings], str]
    endpoints: tuple[str, ...]
    """Each `METHOD /path`; a path ending in `*` covers every path that starts with the rest,
    and a `{name}` segment any one segment."""

    def matches(self, method: str, path: str) -> bool:
        for endpoint in self.endpoints:
            verb, pattern = endpoint.split(" ", 1)
            if verb != method:
                continue
            if pattern.endswith("*") and path.startswith(pattern[:-1]):
                return True
            if path == pattern or ("{" in pattern and _segments_match(pattern, path)):
                return True
        return False


def _segments_match(pattern: str, path: str) -> bool:
    wanted, given = pattern.split("/"), path.split("/")
    return len(wanted) == len(given) and all(
        w == g or (w.startswith("{") and w.endswith("}") and g != "")
        for w, g in zip(wanted, given, strict=True)
    )


# The first rule that matches a request decides its budget (so the writes rule, last, covers
# only what the others do not). Paths are matched as the spec lists them, which is how
# `document_rate_limits` finds the operations of a rule.
RULES: tuple[Rule, ...] = (
    Rule("login", KeyKind.address, lambda s: s.rate_limit_login, ("POST /v1/auth/token",)),
    Rule(
        "registration",
        KeyKind.address,
        lambda s: s.rate_limit_registration,
        ("POST /v1/auth/register",),
    ),
    # Each of these checks a password (argon2: CPU and memory) or sends mail.
    Rule(
        "password",
        KeyKind.address,
        lambda s: s.rate_limit_password,
        (
            "POST /v1/auth/password-reset",
            "POST /v1/auth/verify-email/resend",
            "PATCH /v1/me",
            "DELETE /v1/me",
            "POST /v1/me/api-keys",
            "POST /v1/me/totp",
            "DELETE /v1/me/totp",
            "POST /v1/me/totp/recovery-codes",
        ),
    ),
    # Each presents a token that a guesser would enumerate.
    Rule(
        "session",
        KeyKind.address,
        lambda s: s.rate_limit_session,
        (
            "POST /v1/auth/refresh",
            "POST /v1/auth/logout",
            "POST /v1/auth/verify-email",
            "POST /v1/auth/password-reset/confirm",
            "POST /v1/notifications/unsubscribe",
        ),
    ),
    Rule("search", KeyKind.client, lambda s: s.rate_limit_search, ("GET /v1/listings",)),
    # Each proposal of a price reaches the other party: a budget of its own against spam.
    Rule(
        "offers",
        KeyKind.client,
        lambda s: s.rate_limit_offers,
        ("POST /v1/listings/{listing_id}/offers", "POST /v1/offers/{offer_id}/counter"),
    ),
    Rule(
        "writes",
        KeyKind.client,
        lambda s: s.rate_limit_writes,
        ("POST /v1/*", "PUT /v1/*", "PATCH /v1/*", "DELETE /v1/*"),
    ),
)


def rule_for(method: str, path: str) -> Rule | None:
    return next((rule for rule in RULES if rule.matches(method, path)), None)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _client_id(address: str) -> str:
    """The address a budget is kept for (an IPv6 client's /64); text that is no address
    (a test client's name, a Unix socket) is kept as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def _is_trusted(address: str, trusted: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(scope: Scope, trusted_proxies: tuple[Network, ...]) -> str:
    """The connecting peer, unless it is a trusted proxy: then the right-most address of
    X-Forwarded-For that is not a trusted proxy. Everything left of that was written by the
    client itself, so it is never believed."""
    peer = scope["client"][0] if scope.get("client") else ""
    if not _is_trusted(peer, trusted_proxies):
        return peer
    hops = [
        hop.strip()
        for value in Headers(scope=scope).getlist("x-forwarded-for")
        for hop in value.split(",")
    ]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a proxy of ours forwarded junk: it is the nearest client we can name
        address = hop
        if not _is_trusted(hop, trusted_proxies):
            break
    return address


@dataclass(frozen=True, slots=True)
class Budget:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    @property
    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def _storage(settings: Settings) -> Storage:
    if settings.redis_url is None:
        return MemoryStorage()
    return RedisStorage(
        "async+" + settings.redis_url,
        # Redis' own errors arrive as StorageError, the one failure to serve through.
        wrap_exceptions=True,
        key_prefix=settings.rate_limit_key_prefix,
        connect_timeout=REDIS_TIMEOUT_SECONDS,
        stream_timeout=REDIS_TIMEOUT_SECONDS,
    )


class RateLimitMiddleware:
    """Spends one unit of the matched rule's budget per request, answers 429 `rate_limited`
    when none is left, and tells the budget in `RateLimit-*` headers on every answer of a
    limited route. If the storage (Redis) is out of reach, requests are served unlimited
    (with a warning): a limiter outage must not become an API outage."""

    def __init__(self, app: ASGIApp, *, settings: Settings, api_key_prefix: str) -> None:
        self.app = app
        self.items = {rule.name: parse(rule.limit(settings)) for rule in RULES}
        self.trusted_proxies = tuple(settings.trusted_proxies)
        self.jwt_secret = settings.jwt_secret.get_secret_value()
        # The key format belongs to the auth domain, which core may not import.
        self.api_key_prefix = api_key_prefix
        self.limiter = MovingWindowRateLimiter(_storage(settings))
        self.storage_retry_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = rule_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        budget = await self._spend(rule, scope)
        if budget is None:
            await self.app(scope, receive, send)
            return
        if not budget.allowed:
            item = self.items[rule.name]
            error = RateLimitExceeded(
                f"More than {item} for {rule.name} (per {rule.key.value}); "
                f"try again in {budget.reset_seconds} seconds.",
                retry_after_seconds=budget.reset_seconds,
            )
            error.headers.update(budget.headers)
            await render_error(Request(scope), error)(scope, receive, send)
            return

        async def send_with_budget(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in budget.headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_budget)

    async def _spend(self, rule: Rule, scope: Scope) -> Budget | None:
        """The budget after this request, or None when the storage cannot say."""
        if time.monotonic() < self.storage_retry_at:
            return None
        item = self.items[rule.name]
        identity = self._identity(rule.key, scope)
        try:
            allowed = await self.limiter.hit(item, rule.name, identity)
            reset_at, remaining = await self.limiter.get_window_stats(item, rule.name, identity)
        except StorageError as error:
            self.storage_retry_at = time.monotonic() + STORAGE_RETRY_SECONDS
            logger.warning(
                "rate-limit storage unreachable, serving without limits for %ss: %s",
                STORAGE_RETRY_SECONDS,
                error,
            )
            return None
        # `limits` keeps time with time.time(), not app.core.clock: its windows are real
        # seconds, whatever a test does to the application's clock.
        reset_seconds = max(1, math.ceil(reset_at - time.time()))
        return Budget(allowed, item.amount, max(0, remaining), reset_seconds)

    def _identity(self, key: KeyKind, scope: Scope) -> str:
        address = _client_id(client_address(scope, self.trusted_proxies))
        if key is KeyKind.address:
            return f"address:{address}"
        scheme, token = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
        if scheme.lower() != "bearer" or not token:
            return f"address:{address}"
        if token.startswith(self.api_key_prefix):
            # Only the database can tell a real key, and a lookup per request is what the
            # limiter saves. A made-up key gets a budget of its own, and a 401 from the
            # endpoint: it buys no writes.
            return f"key:{hash_token(token)[:API_KEY_DIGEST_CHARS]}"
        try:
            claims = decode_token(self.jwt_secret, token, expected_type=TokenType.access)
        except InvalidToken:
            # A forged or stale token names nobody: spending from the address keeps a
            # made-up token from buying a fresh budget.
            return f"address:{address}"
        return f"user:{claims.subject}"


# --- the spec ----------------------------------------------------------------------------

_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_BUDGET_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Limit": {
        "description": "Requests allowed in the rule's window",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the window after this one",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Whole seconds until the budget grows again",
        "schema": {"type": "integer", "minimum": 1},
    },
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Whole seconds until the request may be tried again",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def document_rate_limits(schema: dict[str, Any], settings: Settings) -> None:
    """A `429 rate_limited` and the `RateLimit-*` headers on every operation a rule covers,
    with the limit configured in `settings`. Documented even when `rate_limits_enabled` is
    off: the spec describes the product, and the switch exists for the test suite. The
    budget headers are not `required`: a request served while Redis is unreachable has
    none."""
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            rule = rule_for(method.upper(), path) if method in _HTTP_METHODS else None
            if rule is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith("2"):
                    response.setdefault("headers", {}).update(_BUDGET_HEADERS)
            described = (
                f"`rate_limited`: more than {parse(rule.limit(settings))} (per {rule.key.value})"
            )
            if "429" in responses:
                responses["429"]["description"] += f" / {described}"
            else:
                responses["429"] = {
                    "description": described,
                    "content": {
                        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    },
                }
            responses["429"].setdefault("headers", {}).update(
                {"Retry-After": RETRY_AFTER_HEADER, **_BUDGET_HEADERS}
            )
