"""Sending queued mail: claim due messages, hand each to the backend, record the outcome.

At least once: a claim leases its messages (their `next_attempt_at` moves past the longest
the batch can take) and commits before anything is sent; each outcome is recorded after its
attempt, compare-and-set on the claim. A worker killed in between leaves the lease to run
out, and a later sweep sends again (the same `Message-ID`).
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import EmailBackend, Settings
from app.core.clock import now
from app.core.db import Database
from app.core.ids import uuid7
from app.core.mail.backends import deliver
from app.core.mail.models import MailMessage, MailStatus
from app.core.mail.repository import MailRepository

logger = logging.getLogger("app.mail")

BATCH_SIZE = 20
BATCHES_PER_RUN = 10
"""A run drains up to this many batches, so a queue that grew (a busy hour of orders) empties
in a few sweeps, while the other jobs of a sweep still get their turn."""
LEASE_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Claimed:
    message: MailMessage
    claim_id: uuid.UUID
    leased_until: datetime


def longest_attempt(settings: Settings) -> timedelta:
    """What one attempt can take: its timeout, and as long again for the polite QUIT that
    aiosmtplib sends (with the same timeout) when a server stops answering."""
    return settings.email_timeout * 2


def lease(settings: Settings, claimed: int) -> timedelta:
    """Long enough for every claimed message to run its longest attempt, one after another."""
    return longest_attempt(settings) * claimed + LEASE_MARGIN


def lease_holds(settings: Settings, claimed: Claimed) -> bool:
    """Whether one more attempt ends before the claim's lease does. Past that, another worker
    may have claimed the message again, and sending it too would send it twice."""
    return now() + longest_attempt(settings) <= claimed.leased_until


async def claim(session: AsyncSession, settings: Settings) -> list[Claimed]:
    at = now()
    messages = await MailRepository(session).claim_due(at, BATCH_SIZE)
    leased_until = at + lease(settings, len(messages))
    claimed = []
    for message in messages:
        message.next_attempt_at = leased_until
        message.claim_id = uuid7()
        claimed.append(Claimed(message, message.claim_id, leased_until))
    await session.flush()
    return claimed


async def attempt(settings: Settings, message: MailMessage) -> str | None:
    """Sends one message; None when the backend took it, else a short error category
    (never the server's text, which may quote the message or the credentials)."""
    try:
        async with asyncio.timeout(settings.email_timeout.total_seconds()):
            await deliver(settings, message)
    except TimeoutError:
        return "timeout"
    except aiosmtplib.SMTPRecipientsRefused:
        return "recipient_refused"
    except aiosmtplib.SMTPResponseException as error:
        return f"smtp_{error.code}"
    except (aiosmtplib.SMTPException, OSError):
        return "connection_failed"
    except Exception:  # whatever else, the attempt counts, so the mail ends failed, not stuck
        logger.exception("mail %s could not be handed to the backend", message.id)
        return "internal_error"
    return None


async def record(
    session: AsyncSession, settings: Settings, claimed: Claimed, error: str | None
) -> None:
    message = await MailRepository(session).lock(claimed.message.id)
    # Re-claimed after its lease ran out: that attempt's outcome is the one that counts.
    if message is None or message.claim_id != claimed.claim_id:
        return
    at = now()
    message.claim_id = None
    message.attempts += 1
    message.last_error = error
    if error is None:
        message.status = MailStatus.sent
        message.sent_at = at
        message.next_attempt_at = None
    elif message.attempts >= settings.email_max_attempts:
        message.status = MailStatus.failed
        message.next_attempt_at = None
        logger.warning("mail %s failed for good: %s", message.id, error)
    else:
        message.next_attempt_at = at + settings.email_retry_base * 2 ** (message.attempts - 1)
    if message.status is not MailStatus.pending and settings.mail_backend is not (
        EmailBackend.console
    ):
        # Done with: a token in the body must not outlive its sending in the database.
        message.text_body = message.html_body = None
    await session.flush()


async def deliver_due_mail(database: Database, settings: Settings) -> int:
    """Batch after batch (up to `BATCHES_PER_RUN`): claims due messages (one short
    transaction), sends them one by one, and records each outcome in its own transaction.
    Returns how many were attempted."""
    attempted = 0
    for _ in range(BATCHES_PER_RUN):
        async with database.session_scope() as session:
            batch = await claim(session, settings)
        for claimed in batch:
            if not lease_holds(settings, claimed):
                # Slower than the lease allowed for: the rest wait for their lease to run out
                # and are claimed again then, by whichever worker comes first.
                logger.warning("a mail batch outran its lease; the rest of it waits")
                return attempted
            error = await attempt(settings, claimed.message)
            if error is not None:
                logger.info("mail %s not sent: %s", claimed.message.id, error)
            async with database.session_scope() as session:
                await record(session, settings, claimed, error)
            attempted += 1
        if len(batch) < BATCH_SIZE:
            break
    return attempted


async def purge_finished(session: AsyncSession, settings: Settings) -> int:
    """Sent and failed mail past the retention period."""
    return await MailRepository(session).purge_finished_before(now() - settings.event_retention)
