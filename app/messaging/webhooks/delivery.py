"""Sending webhooks: claim due deliveries, POST them signed, record each outcome.

At least once: a claim only leases a delivery (its `next_attempt_at` moves past the
longest the attempt can take) and commits; the outcome is recorded after the request. A
worker killed in between leaves the lease to run out, and the next sweep sends again with
the same `webhook-id`, by which receivers de-duplicate.
"""

import asyncio
import json
import logging
import math
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from app.core.ids import uuid7
from app.core.outbox import OutboxEvent
from app.core.signing import signature
from app.messaging.notifications import service as notifications
from app.messaging.notifications.models import ResourceType
from app.messaging.webhooks.exceptions import WebhookUrlNotAllowed
from app.messaging.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookEndpoint
from app.messaging.webhooks.repository import DeliveryRepository, EndpointRepository
from app.messaging.webhooks.targets import check_target
from app.sellers import service as sellers

logger = logging.getLogger("app.webhooks")

USER_AGENT = "marketplace-webhooks/1"
# Room for the bookkeeping around a request on top of its timeout.
LEASE_MARGIN = timedelta(seconds=5)
ROUNDS_PER_SWEEP = 4


@dataclass(frozen=True, slots=True)
class Outgoing:
    delivery_id: uuid.UUID
    claim_id: uuid.UUID
    """Whose outcome counts: a redelivery or a later claim makes this one's stale."""
    event_id: str
    url: str
    secrets: tuple[str, ...]
    """The current secret, and the previous one while a rotation's overlap lasts."""
    body: bytes


class DeliveryError(StrEnum):
    """What went wrong with an attempt, as recorded in a delivery's `last_error` and log.

    Categories, never the network library's text: that text ("All connection attempts
    failed", "[Errno 111] Connect call failed ('10.0.0.5', 8080)", the address an internal
    name resolves to) would let a seller map the platform's network through their endpoint.
    Refused, unreachable and unresolvable targets are one category for the same reason.
    """

    target_not_allowed = "target_not_allowed"
    """The target guard refused the URL (a non-public address, or plain http where https is
    required); why is said when the endpoint is registered."""
    connection_failed = "connection_failed"
    timeout = "timeout"
    tls = "tls"
    protocol_error = "protocol_error"
    """The receiver answered something that is not HTTP, or closed mid-answer."""
    internal_error = "internal_error"


def http_error(status_code: int) -> str:
    """The category of a non-2xx answer: `http_<status>`."""
    return f"http_{status_code}"


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def payload(event: OutboxEvent) -> bytes:
    """The request body: the same bytes on every attempt of the event."""
    document = {
        "id": str(event.id),
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def batch_size(settings: Settings) -> int:
    return settings.webhook_concurrency * ROUNDS_PER_SWEEP


def lease(settings: Settings, claimed: int) -> timedelta:
    """Long enough for every claimed request to run its full timeout, in turns of
    `webhook_concurrency` at a time."""
    turns = math.ceil(claimed / settings.webhook_concurrency)
    return settings.webhook_timeout * turns + LEASE_MARGIN


async def claim(session: AsyncSession, settings: Settings) -> list[Outgoing]:
    at = now()
    rows = await DeliveryRepository(session).claim_due(at, batch_size(settings))
    leased_until = at + lease(settings, len(rows))
    claimed = []
    for delivery, endpoint, event in rows:
        claim_id = uuid7()
        delivery.next_attempt_at = leased_until
        delivery.claim_id = claim_id
        claimed.append(
            Outgoing(
                delivery.id,
                claim_id,
                str(event.id),
                endpoint.url,
                _signing_secrets(endpoint, at),
                payload(event),
            )
        )
    await session.flush()
    return claimed


def _signing_secrets(endpoint: WebhookEndpoint, at: datetime) -> tuple[str, ...]:
    previous = endpoint.previous_secret
    until = endpoint.previous_secret_until
    if previous is not None and until is not None and at < until:
        return (endpoint.secret, previous)
    return (endpoint.secret,)


async def send(client: httpx.AsyncClient, settings: Settings, outgoing: Outgoing) -> Outcome:
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        # One deadline for the whole attempt, name lookup included: httpx's own timeouts
        # bound each read, and a receiver trickling bytes would never trip them (nor may an
        # attempt outlive the lease its claim took).
        async with asyncio.timeout(settings.webhook_timeout.total_seconds()):
            code = await _post(client, settings, outgoing)
    except WebhookUrlNotAllowed:
        return Outcome(None, DeliveryError.target_not_allowed, elapsed())
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(None, DeliveryError.timeout, elapsed())
    except httpx.HTTPError as error:
        return Outcome(None, _category(error), elapsed())
    return Outcome(code, None if 200 <= code < 300 else http_error(code), elapsed())


def _category(error: httpx.HTTPError) -> DeliveryError:
    if _caused_by_tls(error):
        return DeliveryError.tls
    if isinstance(error, httpx.ConnectError):
        return DeliveryError.connection_failed
    return DeliveryError.protocol_error


def _caused_by_tls(error: BaseException) -> bool:
    """httpx wraps the ssl module's errors (certificate, handshake) in its own."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _post(client: httpx.AsyncClient, settings: Settings, outgoing: Outgoing) -> int:
    vetted = await check_target(settings, outgoing.url)
    url = httpx.URL(outgoing.url)
    extensions: dict[str, Any] = {}
    timestamp = int(now().timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": outgoing.event_id,
        "webhook-timestamp": str(timestamp),
        # Standard Webhooks: several space-separated signatures, any one of which verifies.
        "webhook-signature": " ".join(
            signature(secret, outgoing.event_id, timestamp, outgoing.body)
            for secret in outgoing.secrets
        ),
    }
    if vetted:
        # Connect to the address that was checked, not to whatever the name resolves to a
        # moment later (DNS rebinding); the name still goes in Host and TLS SNI, so virtual
        # hosting and certificate checks work as usual.
        headers["host"] = url.netloc.decode()
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        url = url.copy_with(host=str(vetted[0]))
    # Streamed and never read: a receiver cannot make us download a huge answer.
    async with client.stream(
        "POST", url, content=outgoing.body, headers=headers, extensions=extensions
    ) as response:
        return response.status_code


async def record(
    session: AsyncSession, settings: Settings, outgoing: Outgoing, outcome: Outcome
) -> None:
    deliveries = DeliveryRepository(session)
    delivery = await deliveries.lock(outgoing.delivery_id)
    # Gone with its endpoint, redelivered meanwhile, or re-claimed after its lease ran out:
    # another attempt's outcome is the one that counts (compare-and-set on the claim).
    if delivery is None or delivery.claim_id != outgoing.claim_id:
        return
    delivery.claim_id = None
    at = now()
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            attempted_at=at,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    delivery.attempts += 1
    delivery.last_attempt_at = at
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    if outcome.succeeded:
        delivery.status = DeliveryStatus.succeeded
        delivery.delivered_at = at
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.webhook_max_attempts:
        delivery.status = DeliveryStatus.failed
        delivery.next_attempt_at = None
        # Failing for as long as this delivery was retried, without one success meanwhile.
        if not await deliveries.any_succeeded_since(delivery.endpoint_id, delivery.created_at):
            await _disable_endpoint(session, delivery.endpoint_id, settings)
    else:
        delivery.next_attempt_at = at + settings.webhook_retry_base * 2 ** (delivery.attempts - 1)
    await session.flush()


async def _disable_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, settings: Settings
) -> None:
    """An endpoint that failed every attempt of a delivery (about three days) with no success
    meanwhile stops being sent to until its owner re-enables it (its events keep being
    queued, so nothing is lost); the owner is told."""
    endpoint = await EndpointRepository(session).lock(endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"a delivery failed {settings.webhook_max_attempts} attempts in a row"
    )
    owner = await sellers.get(session, endpoint.seller_id)
    await notifications.notify(
        session,
        owner.user_id,
        type_="webhook_endpoint.disabled",
        title="A webhook endpoint was disabled after repeated failures",
        body=(
            f"Nothing is sent to {endpoint.url} until you enable it again: "
            f"{endpoint.disabled_reason}. Events keep being queued for it."
        ),
        resource=(ResourceType.webhook_endpoint, endpoint.id),
        data={"endpoint_id": str(endpoint.id), "url": endpoint.url},
    )


OutcomeSink = Callable[[Outgoing, Outcome], Awaitable[None]]


async def send_all(
    settings: Settings,
    batch: list[Outgoing],
    on_outcome: OutcomeSink,
) -> None:
    """Sends concurrently (at most `webhook_concurrency` at once), handing each outcome to
    `on_outcome` as soon as it is known, one at a time: a receiver that hangs holds only
    its own slot, and nobody else's outcome waits for it."""
    slots = asyncio.Semaphore(settings.webhook_concurrency)
    outcomes: asyncio.Queue[tuple[Outgoing, Outcome]] = asyncio.Queue()

    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout.total_seconds(),
        follow_redirects=False,
    ) as client:

        async def one(outgoing: Outgoing) -> None:
            async with slots:
                try:
                    outcome = await send(client, settings, outgoing)
                except Exception:  # every claimed delivery must get an outcome
                    logger.exception(
                        "webhook delivery %s failed unexpectedly", outgoing.delivery_id
                    )
                    outcome = Outcome(None, DeliveryError.internal_error, 0)
                outcomes.put_nowait((outgoing, outcome))

        senders = [asyncio.create_task(one(o)) for o in batch]
        for _ in batch:
            await on_outcome(*(await outcomes.get()))
        await asyncio.gather(*senders)
