import uuid
from datetime import datetime

from sqlalchemy import delete, func, select

from app.core.mail.models import MailMessage, MailStatus
from app.core.repository import RepositoryBase


class MailRepository(RepositoryBase[MailMessage]):
    model = MailMessage

    async def claim_due(self, at: datetime, limit: int) -> list[MailMessage]:
        """Due messages, oldest first, row-locked; rows another worker holds are skipped
        (PostgreSQL)."""
        statement = (
            select(MailMessage)
            .where(MailMessage.status == MailStatus.pending, MailMessage.next_attempt_at <= at)
            .order_by(MailMessage.next_attempt_at, MailMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.scalars(statement)).all())

    async def lock(self, message_id: uuid.UUID) -> MailMessage | None:
        return await self.get_one_or_none(
            select(MailMessage)
            .where(MailMessage.id == message_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def recent(self, limit: int, to_address: str | None = None) -> list[MailMessage]:
        statement = select(MailMessage).order_by(MailMessage.id.desc()).limit(limit)
        if to_address is not None:
            statement = statement.where(MailMessage.to_address == to_address.lower())
        return list((await self.session.scalars(statement)).all())

    async def count_to_since(self, to_address: str, template: str, since: datetime) -> int:
        statement = select(func.count()).where(
            MailMessage.to_address == to_address.lower(),
            MailMessage.template == template,
            MailMessage.created_at >= since,
        )
        return int(await self.session.scalar(statement) or 0)

    async def purge_finished_before(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(MailMessage).where(
                MailMessage.status != MailStatus.pending, MailMessage.created_at < before
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(MailMessage).where(MailMessage.user_id == user_id))
