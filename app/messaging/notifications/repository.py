import uuid
from datetime import datetime

from sqlalchemy import Select, delete, func, select, update

from app.core.repository import RepositoryBase, locked
from app.messaging.notifications.models import Notification


class NotificationRepository(RepositoryBase[Notification]):
    model = Notification

    def of_user(self, user_id: uuid.UUID, *, unread_only: bool) -> Select[Notification]:
        statement = select(Notification).where(Notification.user_id == user_id)
        if unread_only:
            statement = statement.where(Notification.read_at.is_(None))
        return statement

    async def get_of_user(
        self, notification_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
    ) -> Notification | None:
        """One of the user's notifications (anyone else's: None, decided in the query)."""
        statement = self.of_user(user_id, unread_only=False).where(
            Notification.id == notification_id
        )
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def unread_count(self, user_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
        return int(await self.session.scalar(statement) or 0)

    async def purge_read_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(Notification)
            .where(Notification.read_at.is_not(None), Notification.created_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def mark_all_read(self, user_id: uuid.UUID, at: datetime) -> int:
        result = await self.session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
