"""The worker's webhook job."""

from app.config import Settings
from app.core.db import Database
from app.messaging.webhooks import delivery
from app.messaging.webhooks.delivery import Outcome, Outgoing


async def deliver_due_webhooks(database: Database, settings: Settings) -> int:
    """Claims due deliveries (one short transaction), sends them, and records each outcome
    in its own transaction as it arrives. Returns how many were attempted."""
    async with database.session_scope() as session:
        batch = await delivery.claim(session, settings)
    if not batch:
        return 0

    async def record(outgoing: Outgoing, outcome: Outcome) -> None:
        async with database.session_scope() as session:
            await delivery.record(session, settings, outgoing, outcome)

    await delivery.send_all(settings, batch, record)
    return len(batch)
