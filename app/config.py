"""The one typed settings object. Every knob is an environment variable prefixed MARKETPLACE_."""

import base64
import json
import math
import re
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from limits import parse_many
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from zxcvbn import zxcvbn

# Deliberately recognisable so production can refuse it.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./marketplace.db"
# The sandbox tracking provider's webhook secret outside production (public on purpose:
# integrators sign their test events with it).
DEV_SANDBOX_TRACKING_SECRET = "whsec_c2FuZGJveC10cmFja2luZy1ub3Qtc2VjcmV0"


def _seconds_or_iso(value: object) -> object:
    """Environment variables arrive as text: "90" means 90 seconds (pydantic alone would
    only take ISO 8601 text such as "PT90S")."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


def _comma_separated(value: object) -> object:
    """A list setting from the environment: a JSON list or plain comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


# scheme://host[:port] and nothing else: a browser's Origin never has a path or a trailing
# slash, so such an entry would silently match nothing.
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def _valid_origins(origins: list[str]) -> list[str]:
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], or *)")
    return origins


CorsOrigins = Annotated[
    list[str], NoDecode, BeforeValidator(_comma_separated), AfterValidator(_valid_origins)
]


def _one_rate_limit(value: str) -> str:
    """Exactly one `limits` expression ("10/minute", "5 per hour"): checked at startup, so a
    typo fails the deployment instead of silently limiting nothing."""
    items = parse_many(value)  # ValueError on anything it cannot read
    if len(items) != 1:
        raise ValueError(f"{value!r}: give one limit, not {len(items)}")
    if items[0].amount < 1:
        raise ValueError(f"{value!r}: a limit must allow at least one request")
    return value


RateLimit = Annotated[str, AfterValidator(_one_rate_limit)]

TrustedProxies = Annotated[list[IPvAnyNetwork], NoDecode, BeforeValidator(_comma_separated)]


def _redis_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("redis://", "rediss://")):
        raise ValueError("a Redis URL starts with redis:// or rediss://")
    return value


RedisUrl = Annotated[str | None, AfterValidator(_redis_url)]

# Where `marketplace serve` listens unless told otherwise (app/cli.py sets
# MARKETPLACE_PUBLIC_URL from its --host/--port when the variable is unset).
DEVELOPMENT_PUBLIC_URL = "http://127.0.0.1:8000"
_PUBLIC_URL = re.compile(r"^https?://[^\s/?#]+(?:/[^\s?#]*)?$")


def _public_url(value: str | None) -> str | None:
    if value is not None and not _PUBLIC_URL.match(value):
        raise ValueError("a public URL is http(s)://host[:port][/path], without query or fragment")
    return value


PublicUrl = Annotated[str | None, AfterValidator(_public_url)]


# The usual dev servers of web frontends (Vite, create-react-app, Angular, Next.js).
DEVELOPMENT_CORS_ORIGINS = tuple(
    f"http://{host}:{port}"
    for port in (3000, 4200, 5173, 8080)
    for host in ("localhost", "127.0.0.1")
)

# zxcvbn's estimate of a secret's guessability, in bits. It credits a random character with
# about 3.3 bits (a random 32-character hex or base64 string scores 100-110), and a phrase, a
# repeat or a keyboard walk with far less, whatever its length.
MIN_PRODUCTION_SECRET_BITS = 100


def secret_strength_bits(secret: str) -> float:
    return float(zxcvbn(secret)["guesses_log10"]) * math.log2(10)


# OWASP's floor for argon2id.
MIN_PRODUCTION_HASH_MEMORY_KIB = 19 * 1024

PositiveDuration = Annotated[timedelta, BeforeValidator(_seconds_or_iso), Field(gt=timedelta(0))]


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class EmailBackend(StrEnum):
    console = "console"
    """Mail is written to the log and kept, whole, in the outbox, where `marketplace mail`
    lists it: a newcomer can follow a link."""
    smtp = "smtp"
    """Sent through `MARKETPLACE_SMTP_URL`."""
    none = "none"
    """Nothing is sent (queued mail is marked sent and wiped)."""


# Deliberately recognisable so production can refuse it.
DEV_TOTP_ENCRYPTION_KEY = "dev-only-insecure-totp-key-change-me"

_SMTP_URL = re.compile(r"^smtps?://(?:[^@/\s]+@)?[^@/:\s]+(?::(?P<port>\d{1,5}))?/?$")


def _smtp_url(value: SecretStr | None) -> SecretStr | None:
    matched = None if value is None else _SMTP_URL.match(value.get_secret_value())
    if value is not None and (
        matched is None or not 1 <= int(matched.group("port") or 25) <= 65535
    ):
        raise ValueError(
            "an SMTP URL is smtp://[user:password@]host[:port] (STARTTLS) or smtps://... "
            "(TLS from the first byte)"
        )
    return value


SmtpUrl = Annotated[SecretStr | None, AfterValidator(_smtp_url)]


class ModerationMode(StrEnum):
    auto = "auto"
    required = "required"


DEFAULT_PROHIBITED_TERMS = (
    "counterfeit",
    "replica",
    "knockoff",
    "stolen",
    "firearm",
    "ammunition",
    "cocaine",
    "heroin",
)


class Settings(BaseSettings):
    """Durations accept seconds (`90`) or ISO 8601 (`PT2S`, `P14D`)."""

    # hide_input_in_errors: a refused setting must not echo the secret it was given.
    model_config = SettingsConfigDict(
        env_prefix="MARKETPLACE_", extra="ignore", hide_input_in_errors=True
    )

    environment: Environment = Environment.development
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    database_echo: bool = False
    database_connect_timeout: PositiveDuration = timedelta(seconds=5)
    """How long a new PostgreSQL connection may take before the request answers 503
    `database_unavailable` (asyncpg's own default is a minute)."""
    database_pool_size: int = Field(default=20, ge=1)
    """PostgreSQL connections each process keeps open (per engine: the primary's, and the
    replica's when there is one). Set it to the requests a process serves at once: a
    connection beyond it (`database_max_overflow`) is opened for one request and closed
    after it, and opening one costs more than most requests."""
    database_max_overflow: int = Field(default=10, ge=0)
    """Connections a process may open beyond `database_pool_size` at a peak; past both,
    a request waits for a free connection."""
    database_read_url: str | None = Field(default=None, repr=False)  # may hold a password
    """A streaming replica of the primary (PostgreSQL) for the public reads: search, listing
    pages, storefronts, the category tree, public reviews. They may lag the primary by the
    replica's replay delay (the category tree each process caches, by up to that delay plus
    `category_tree_ttl`); everything else, a shop's or an admin's view of a listing page
    included, reads the primary. Unset: every read goes to the primary."""
    database_transaction_pooler: bool = False
    """True when the database URLs reach PostgreSQL through a pooler in transaction mode
    (PgBouncer's `pool_mode = transaction`), where each transaction may run on another server
    connection, so no prepared statement may outlive its use: asyncpg's and SQLAlchemy's
    statement caches are off and every statement is prepared under a name of its own. The
    `jit` and `plan_cache_mode` server settings are then not sent at connect (PgBouncer
    refuses unknown startup parameters): set them on the database instead,
    `ALTER DATABASE <name> SET jit = off` (plan_cache_mode no longer matters: no statement
    is run twice)."""

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_ttl: PositiveDuration = timedelta(minutes=15)
    refresh_token_ttl: PositiveDuration = timedelta(days=30)

    # argon2id cost; the defaults are RFC 9106's low-memory profile. Tests lower them.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)

    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window: PositiveDuration = timedelta(minutes=15)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_key_ttl: PositiveDuration = timedelta(hours=24)

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")

    media_dir: Path = Path("./media")
    public_url: PublicUrl = None
    """The API's public base URL (scheme, host, port, any path prefix), e.g.
    `https://api.example.com`: media URLs in answers are absolute under it. Required in
    production (behind a proxy the app cannot know its public name, and taking it from a
    request's Host header would let a client choose the links others are shown); elsewhere
    it defaults to the address `marketplace serve` listens on (http://127.0.0.1:8000 unless
    told otherwise)."""
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    """Largest image (width x height) accepted for decoding: a small file can declare a huge
    canvas (a decompression bomb), so the declared size is checked before any pixel is read."""
    max_image_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_images_per_listing: int = Field(default=10, ge=1)

    category_tree_ttl: PositiveDuration = timedelta(seconds=10)
    """How stale a process's in-memory category tree may get after another process changes
    the tree (changes made through the same process show at once)."""

    listing_moderation: ModerationMode = ModerationMode.auto
    # A JSON list in the environment, e.g. MARKETPLACE_PROHIBITED_TERMS='["replica"]'.
    prohibited_terms: tuple[str, ...] = DEFAULT_PROHIBITED_TERMS

    payment_expiry: PositiveDuration = timedelta(minutes=30)
    ship_by: PositiveDuration = timedelta(days=44)
    """The longest a paid order may wait to ship, whatever its listings promise: its ship-by
    is its lines' longest handling time in business days after payment, capped by this. The
    default honours the longest handling time a listing may set, 30 business days: six weeks
    from a weekday, 44 days from a payment on a Saturday. A shorter cap cuts the longer
    promises short."""
    auto_complete_after: PositiveDuration = timedelta(days=14)
    """How long after the carrier reports delivery the order completes on its own."""
    auto_complete_fallback: PositiveDuration = timedelta(days=30)
    """How long after shipping an order completes on its own while its carrier reports no
    delivery (a carrier without tracking, a parcel stuck in transit)."""
    undelivered_refund_after: PositiveDuration = timedelta(days=14)
    """How long after a carrier reports a parcel lost or returned to the sender, with no
    later scan and no dispute, the buyer is refunded in full."""
    shipment_correction_window: PositiveDuration = timedelta(hours=48)
    """How long after shipping the seller may correct a parcel's carrier or tracking number
    (and only while the carrier has reported nothing about it)."""
    return_inspection_time: PositiveDuration = timedelta(days=3)
    """How long a seller has, after the carrier delivers a returned parcel, to confirm its
    receipt (which refunds) before the return counts as received."""
    tracking_webhook_secrets: dict[str, SecretStr] = {}
    """Per tracking provider, the Standard Webhooks secret (`whsec_…`) its events to
    `POST /v1/logistics/webhooks/{provider}` are signed with. A provider without one is
    refused (404). Outside production the `sandbox` provider gets a development secret."""
    tracking_webhook_tolerance: PositiveDuration = timedelta(minutes=5)
    """A carrier event signed longer ago than this (or ahead by as much) is refused as a
    possible replay."""
    payout_hold: Annotated[timedelta, BeforeValidator(_seconds_or_iso)] = timedelta(0)
    review_window: PositiveDuration = timedelta(days=14)
    return_window: PositiveDuration = timedelta(days=7)
    dispute_window: PositiveDuration = timedelta(days=14)
    dispute_response_time: PositiveDuration = timedelta(days=3)
    """The seller's time to answer a dispute or a return request."""
    max_evidence_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    commission_percent: Decimal = Field(default=Decimal(10), ge=0, le=100, decimal_places=2)
    commission_fixed: int = Field(default=0, ge=0, description="Minor units per order")
    """The platform's default commission: percent of a line's sale (its price and shipping,
    less what its shop funds of a discount) plus a fixed fee per order. A commission rule
    (by category or shop, `/v1/admin/commission-rules`) replaces the percent."""
    buyer_protection_percent: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=2)
    buyer_protection_fixed: int = Field(default=0, ge=0)
    """The buyer protection fee on each order: percent of what the buyer pays for the goods
    and shipping (after discounts) plus this fixed amount in minor units; platform revenue,
    refunded with a full refund only. Both zero (the default): no fee."""

    offer_ttl: PositiveDuration = timedelta(hours=48)
    """How long an offer or counter-offer stands unanswered, and how long an accepted one
    holds the stock for the buyer to pay."""
    offers_per_listing: int = Field(default=5, ge=1)
    """Offers and counter-offers one buyer may make on one listing per `offer_ttl`: with
    amounts already declined refused, it keeps a listing's floor from being found by
    bisection."""
    rate_limit_offers: RateLimit = "20/hour"
    """Offers and counter-offers one buyer may make (app/core/ratelimit.py)."""
    saved_searches_per_user: int = Field(default=50, ge=1)
    favourites_per_user: int = Field(default=1000, ge=1)

    completion_reminder_before: PositiveDuration = timedelta(days=2)
    """How long before auto-completion the buyer is reminded to confirm or dispute."""

    message_max_length: int = Field(default=2000, ge=1)
    message_rate_limit: int = Field(default=20, ge=1)
    """Messages one person may send per `message_rate_window`, across conversations."""
    message_rate_window: PositiveDuration = timedelta(minutes=1)

    webhook_timeout: PositiveDuration = timedelta(seconds=5)
    webhook_retry_base: PositiveDuration = timedelta(minutes=1)
    """After failed attempt n the next waits base * 2^(n-1): 1 min, 2 min, 4 min, ...; the 13
    attempts of the default span 4,095 minutes, about three days."""
    webhook_max_attempts: int = Field(default=13, ge=1)
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_secret_overlap: Annotated[timedelta, BeforeValidator(_seconds_or_iso)] = timedelta(
        hours=24
    )
    """After a rotation, requests are signed with the previous secret too for this long, so
    a receiver can switch secrets without rejecting anything (0: the old one stops at once)."""
    event_retention: PositiveDuration = timedelta(days=30)
    """How long finished webhook deliveries (with their log), read notifications and domain
    events no pending delivery needs are kept."""
    # None means "allowed except in production" (see webhooks_may_reach_private_networks).
    webhook_allow_private_targets: bool | None = None

    worker_interval: PositiveDuration = timedelta(seconds=5)
    # None means "true in development, false elsewhere" (see worker_runs_in_process).
    run_worker_in_process: bool | None = None

    cors_origins: CorsOrigins | None = None
    """Browser origins allowed to call the API (JSON list or comma-separated; `*` for any,
    then without credentials). None: the usual localhost dev servers in development, none
    elsewhere."""

    metrics_token: SecretStr | None = None
    """Bearer token that GET /metrics requires (`Authorization: Bearer <token>`). Unset: open
    outside production, and absent (404) in production, where request counts per route and
    failed logins would tell an attacker too much."""

    rate_limits_enabled: bool = True
    """Per-client request budgets (app/core/ratelimit.py). Off only where one client makes
    every request on purpose: the test suite."""
    redis_url: RedisUrl = Field(default=None, repr=False)  # may hold a password
    """Shared state of all the deployment's processes (today: the rate-limit budgets).
    Unset: each process keeps its own budgets in memory, so N processes allow N times the
    limit."""
    rate_limit_key_prefix: str = Field(default="marketplace", min_length=1)
    """Redis keys start with it, so that deployments sharing one Redis keep apart."""
    trusted_proxies: TrustedProxies = []
    """Addresses or networks (JSON list or comma-separated) of the reverse proxies in front
    of the app. Only a request from one of them has its client taken from X-Forwarded-For
    (the right-most address that is not a trusted proxy); empty, the connecting peer is the
    client, since anyone can write that header."""
    # One `limits` expression ("10/minute") per rule of app/core/ratelimit.py, whose table
    # says which endpoints each covers and who counts as one client.
    rate_limit_login: RateLimit = "10/minute"
    rate_limit_registration: RateLimit = "10/hour"
    rate_limit_password: RateLimit = "20/hour"
    rate_limit_session: RateLimit = "60/minute"
    rate_limit_search: RateLimit = "120/minute"
    rate_limit_writes: RateLimit = "120/minute"

    email_backend: EmailBackend | None = None
    """None means `console` outside production; production must choose `smtp` or `none`."""
    smtp_url: SmtpUrl = Field(default=None, repr=False)  # may hold a password
    """`smtp://user:password@host:587` sends with STARTTLS (required in production, offered
    elsewhere), `smtps://...:465` with TLS from the first byte; user and password are
    percent-encoded."""
    email_from: str = Field(
        default="Marketplace <no-reply@marketplace.invalid>", min_length=3, max_length=320
    )
    """The `From` of every mail."""
    email_link_base_url: PublicUrl = None
    """Where the links in account mail point (the frontend's pages `/verify-email?token=`
    and `/reset-password?token=`); unset, the API's public URL."""
    email_timeout: PositiveDuration = timedelta(seconds=20)
    """How long one SMTP conversation may take, connecting included."""
    email_retry_base: PositiveDuration = timedelta(minutes=1)
    """After failed attempt n the next waits base * 2^(n-1)."""
    email_max_attempts: int = Field(default=10, ge=1, le=30)
    email_verification_ttl: PositiveDuration = timedelta(days=2)
    password_reset_ttl: PositiveDuration = timedelta(minutes=30)
    password_reset_mails_per_hour: int = Field(default=3, ge=1)
    """Reset mails one address receives per hour at most, whoever asks: a stranger cannot
    flood an inbox through the (per-client) rate limit's many clients."""
    registration_notices_per_hour: int = Field(default=3, ge=1)
    """"Someone tried to register with your address" notes one address receives per hour at
    most: registering with a taken address cannot flood its owner's inbox."""
    # None means "true in production, false elsewhere" (see verified_email_required).
    require_verified_email: bool | None = None
    """An account whose email is not verified may browse and fill its cart, but not pay,
    apply to sell or create API keys (403 `email_not_verified`)."""
    totp_encryption_key: SecretStr = SecretStr(DEV_TOTP_ENCRYPTION_KEY)
    """Encrypts TOTP secrets at rest (any long random text; a key is derived from it).
    Changing it makes every enrolled second factor unreadable: keep it like the JWT secret."""
    totp_issuer: str = Field(default="Marketplace", min_length=1, max_length=64)
    """The name authenticator apps show beside the account."""
    # None means "true in production, false elsewhere" (see admin_totp_required).
    require_admin_totp: bool | None = None
    """An admin without a confirmed second factor can do nothing but enrol one."""

    log_level: str = "INFO"
    log_json: bool = True

    @property
    def public_base_url(self) -> str:
        """`public_url` without a trailing slash (the development default when unset)."""
        return (self.public_url or DEVELOPMENT_PUBLIC_URL).rstrip("/")

    @property
    def email_link_base(self) -> str:
        return (self.email_link_base_url or self.public_base_url).rstrip("/")

    @property
    def mail_backend(self) -> EmailBackend:
        if self.email_backend is None:
            return EmailBackend.console
        return self.email_backend

    @property
    def verified_email_required(self) -> bool:
        if self.require_verified_email is None:
            return self.environment is Environment.production
        return self.require_verified_email

    @property
    def admin_totp_required(self) -> bool:
        if self.require_admin_totp is None:
            return self.environment is Environment.production
        return self.require_admin_totp

    @field_validator("tracking_webhook_secrets")
    @classmethod
    def _secrets_are_keys(cls, secrets: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # Checked here, so that a mistyped secret stops the start rather than every event.
        for provider, hidden in secrets.items():
            secret = hidden.get_secret_value()
            try:
                key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except ValueError:
                key = b""
            if not secret.startswith("whsec_") or len(key) < 16:
                raise ValueError(f"the secret of {provider!r} must be whsec_ + base64 of 16+ bytes")
        return secrets

    def tracking_webhook_secret(self, provider: str) -> str | None:
        """The secret `provider`'s carrier events are signed with (None: not accepted)."""
        hidden = self.tracking_webhook_secrets.get(provider)
        configured = hidden.get_secret_value() if hidden is not None else None
        sandbox_allowed = self.environment is not Environment.production
        if configured is None and provider == "sandbox" and sandbox_allowed:
            return DEV_SANDBOX_TRACKING_SECRET
        return configured

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def webhooks_may_reach_private_networks(self) -> bool:
        """Loopback and private targets are refused in production (SSRF) unless allowed."""
        if self.webhook_allow_private_targets is None:
            return self.environment is not Environment.production
        return self.webhook_allow_private_targets

    @property
    def allowed_cors_origins(self) -> tuple[str, ...]:
        if self.cors_origins is None:
            if self.environment is Environment.development:
                return DEVELOPMENT_CORS_ORIGINS
            return ()
        return tuple(self.cors_origins)

    @property
    def worker_runs_in_process(self) -> bool:
        if self.run_worker_in_process is None:
            return self.environment is Environment.development
        return self.run_worker_in_process

    @model_validator(mode="after")
    def _postgres_only_database_options(self) -> "Settings":
        # SQLite has neither replicas nor poolers: such a setting there is a mistake that
        # would otherwise be ignored.
        if self.database_read_url is not None and (
            self.is_sqlite or self.database_read_url.startswith("sqlite")
        ):
            raise ValueError("MARKETPLACE_DATABASE_READ_URL needs PostgreSQL (primary and replica)")
        if self.database_transaction_pooler and self.is_sqlite:
            raise ValueError("MARKETPLACE_DATABASE_TRANSACTION_POOLER needs PostgreSQL")
        return self

    @model_validator(mode="after")
    def _smtp_backend_has_a_server(self) -> "Settings":
        if self.email_backend is EmailBackend.smtp and self.smtp_url is None:
            raise ValueError("MARKETPLACE_EMAIL_BACKEND=smtp needs MARKETPLACE_SMTP_URL")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.environment is Environment.production:
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
                raise ValueError("MARKETPLACE_JWT_SECRET must be set in production")
            if len(self.jwt_secret.get_secret_value()) < 32:
                raise ValueError("MARKETPLACE_JWT_SECRET must be at least 32 characters")
            if secret_strength_bits(self.jwt_secret.get_secret_value()) < (
                MIN_PRODUCTION_SECRET_BITS
            ):
                raise ValueError(
                    "MARKETPLACE_JWT_SECRET is too guessable (a repeat, a phrase or a pattern): "
                    "use a random one, e.g. python3 -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'"
                )

            if self.password_hash_memory_kib < MIN_PRODUCTION_HASH_MEMORY_KIB:
                raise ValueError("password hashing below 19 MiB of memory is too weak")
            if self.is_sqlite:
                raise ValueError(
                    "SQLite is for development; set MARKETPLACE_DATABASE_URL to PostgreSQL"
                )
            if self.public_url is None:
                raise ValueError(
                    "MARKETPLACE_PUBLIC_URL must be set in production (the API's public base "
                    "URL, e.g. https://api.example.com): media URLs are built from it"
                )
            if self.email_backend is None or self.email_backend is EmailBackend.console:
                raise ValueError(
                    "MARKETPLACE_EMAIL_BACKEND must be smtp (with MARKETPLACE_SMTP_URL) or none "
                    "in production: the console backend keeps mail, reset links included, "
                    "in the database"
                )
            totp_key = self.totp_encryption_key.get_secret_value()
            if totp_key == DEV_TOTP_ENCRYPTION_KEY or (
                secret_strength_bits(totp_key) < MIN_PRODUCTION_SECRET_BITS
            ):
                raise ValueError(
                    "MARKETPLACE_TOTP_ENCRYPTION_KEY must be set in production to a random "
                    "secret (it encrypts second-factor secrets)"
                )
            secrets = self.tracking_webhook_secrets.values()
            if DEV_SANDBOX_TRACKING_SECRET in (s.get_secret_value() for s in secrets):
                raise ValueError(
                    "MARKETPLACE_TRACKING_WEBHOOK_SECRETS may not use the public development "
                    "secret in production"
                )
        return self


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment; tests build their own `Settings(...)`."""
    return Settings()
