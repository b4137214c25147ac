"""The sweep loop. Each unit of work (one checkout, order, payout, return, dispute or order's
reviews) is one transaction,
claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers can run at once and
killing one at any moment loses at most the unit in flight, which the next sweep redoes."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.password_reset import handle_one_request as handle_one_password_reset
from app.auth.service import purge_expired as purge_expired_auth
from app.config import Settings
from app.core.db import Database
from app.core.idempotency import purge_expired_records
from app.core.mail.delivery import deliver_due_mail
from app.core.mail.delivery import purge_finished as purge_finished_mail
from app.disputes.tasks import (
    approve_one_overdue_return,
    receive_one_delivered_return,
    resolve_one_unanswered_dispute,
)
from app.logistics.tasks import poll_one_order_shipments
from app.messaging.tasks import purge_expired as purge_expired_messaging
from app.messaging.webhooks.tasks import deliver_due_webhooks
from app.offers.tasks import expire_one_offer
from app.orders.tasks import (
    auto_complete_one_order,
    expire_one_checkout,
    refund_one_undelivered_order,
    release_one_hold,
    remind_one_completion,
)
from app.payments.provider import PaymentProvider
from app.payments.tasks import settle_one_payout
from app.reviews.tasks import publish_one_order_reviews
from app.watchlists.tasks import (
    match_one_saved_searches_batch,
    notify_one_favourites_batch,
    purge_told_matches,
    send_one_digest_batch,
)

logger = logging.getLogger("app.worker")

# Units per job per sweep: small, so one busy job cannot starve the others.
BATCH_SIZE = 100


@dataclass(frozen=True, slots=True)
class WorkerContext:
    database: Database
    settings: Settings
    provider: PaymentProvider


UnitOfWork = Callable[[AsyncSession, Settings, PaymentProvider], Awaitable[bool]]
"""Claims and handles one due item; False when nothing is due."""
Job = Callable[[WorkerContext], Awaitable[int]]


def drain(unit: UnitOfWork) -> Job:
    """A job that runs `unit` in its own transaction until nothing is due (or the batch
    is done)."""

    async def job(context: WorkerContext) -> int:
        done = 0
        while done < BATCH_SIZE:
            async with context.database.session_scope() as session:
                if not await unit(session, context.settings, context.provider):
                    break
            done += 1
        return done

    return job


async def _purge_sessions(context: WorkerContext) -> int:
    async with context.database.session_scope() as session:
        return await purge_expired_auth(session, context.settings)


async def _deliver_webhooks(context: WorkerContext) -> int:
    return await deliver_due_webhooks(context.database, context.settings)


async def _purge_messaging(context: WorkerContext) -> int:
    async with context.database.session_scope() as session:
        return await purge_expired_messaging(session, context.settings)


async def _deliver_mail(context: WorkerContext) -> int:
    return await deliver_due_mail(context.database, context.settings)


async def _purge_mail(context: WorkerContext) -> int:
    async with context.database.session_scope() as session:
        return await purge_finished_mail(session, context.settings)


async def _answer_password_reset(
    session: AsyncSession, settings: Settings, _provider: PaymentProvider
) -> bool:
    return await handle_one_password_reset(session, settings)


async def _purge_matches(context: WorkerContext) -> int:
    async with context.database.session_scope() as session:
        return await purge_told_matches(session, context.settings.event_retention)


async def _purge_idempotency(context: WorkerContext) -> int:
    async with context.database.session_scope() as session:
        return await purge_expired_records(session)


async def _notify_favourites(
    session: AsyncSession, _settings: Settings, _provider: PaymentProvider
) -> bool:
    return await notify_one_favourites_batch(session)


async def _match_saved_searches(
    session: AsyncSession, _settings: Settings, _provider: PaymentProvider
) -> bool:
    return await match_one_saved_searches_batch(session)


async def _send_saved_search_digests(
    session: AsyncSession, _settings: Settings, _provider: PaymentProvider
) -> bool:
    return await send_one_digest_batch(session)


DELIVER_WEBHOOKS = "deliver_webhooks"
DELIVER_MAIL = "deliver_mail"
SENDERS = (DELIVER_WEBHOOKS, DELIVER_MAIL)
"""Jobs that talk to servers outside (receivers' endpoints, the SMTP server): each runs in a
loop of its own, so a slow or hanging server holds up neither the sweep nor the other."""

JOBS: dict[str, Job] = {
    "expire_unpaid_checkouts": drain(expire_one_checkout),
    "expire_offers": drain(expire_one_offer),
    # Before the completion jobs: a delivery due now moves the completion date first.
    "poll_shipments": drain(poll_one_order_shipments),
    "receive_delivered_returns": drain(receive_one_delivered_return),
    "refund_undelivered_orders": drain(refund_one_undelivered_order),
    "remind_completion_due": drain(remind_one_completion),
    "auto_complete_orders": drain(auto_complete_one_order),
    "release_payout_holds": drain(release_one_hold),
    "settle_payouts": drain(settle_one_payout),
    "approve_overdue_returns": drain(approve_one_overdue_return),
    "resolve_unanswered_disputes": drain(resolve_one_unanswered_dispute),
    "publish_due_reviews": drain(publish_one_order_reviews),
    "answer_password_resets": drain(_answer_password_reset),
    "notify_favourites": drain(_notify_favourites),
    "match_saved_searches": drain(_match_saved_searches),
    # After matching: a daily search's matches found in this sweep go in a digest due now.
    "send_saved_search_digests": drain(_send_saved_search_digests),
    DELIVER_MAIL: _deliver_mail,
    DELIVER_WEBHOOKS: _deliver_webhooks,
    "purge_expired_sessions": _purge_sessions,
    "purge_expired_idempotency_keys": _purge_idempotency,
    "purge_expired_events": _purge_messaging,
    "purge_finished_mail": _purge_mail,
    "purge_told_saved_search_matches": _purge_matches,
}


async def run_once(context: WorkerContext, jobs: dict[str, Job] | None = None) -> dict[str, int]:
    """One sweep of every job (or of `jobs`); a failing job is logged and does not stop the
    others."""
    done: dict[str, int] = {}
    for name, job in (JOBS if jobs is None else jobs).items():
        try:
            done[name] = await job(context)
        except Exception:
            logger.exception("worker job %s failed", name)
            done[name] = -1
    return done


async def _sweep_forever(context: WorkerContext, jobs: dict[str, Job]) -> None:
    interval = context.settings.worker_interval.total_seconds()
    while True:
        done = await run_once(context, jobs)
        if any(done.values()):
            logger.info("worker sweep", extra={"jobs": done})
        await asyncio.sleep(interval)


async def _send_forever(context: WorkerContext, name: str) -> None:
    """A sender drains its queue batch after batch, resting only when nothing is due."""
    interval = context.settings.worker_interval.total_seconds()
    while True:
        sent = (await run_once(context, {name: JOBS[name]}))[name]
        if sent <= 0:
            await asyncio.sleep(interval)


async def run_forever(context: WorkerContext) -> None:
    """The sweep loop and, beside it, each sender (webhooks, mail): slow receivers or a slow
    mail server must not hold up expiry, completion or payouts, and a busy queue must not
    wait a sweep between batches."""
    senders = [name for name in SENDERS if name in JOBS]
    sweeps = {name: job for name, job in JOBS.items() if name not in senders}
    await asyncio.gather(
        _sweep_forever(context, sweeps), *(_send_forever(context, name) for name in senders)
    )
