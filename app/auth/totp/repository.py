import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.models import RecoveryCode, User
from app.core.repository import RepositoryBase


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class SecondFactorRepository(RepositoryBase[User]):
    """The TOTP columns of `users`, written by compare-and-set: concurrent requests with the
    same code cannot both be accepted."""

    model = User

    async def confirm(self, user: User, *, secret: str, step: int, at: datetime) -> bool:
        """Enable the enrolment holding `secret` (not one that replaced it meanwhile), with
        `step` as the code accepted; False if it is no longer there to confirm."""
        result = await self.session.execute(
            update(User)
            .where(
                User.id == user.id,
                User.totp_secret == secret,
                User.totp_enabled_at.is_(None),
            )
            .values(totp_enabled_at=at, totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return False
        set_committed_value(user, "totp_enabled_at", at)
        set_committed_value(user, "totp_last_step", step)
        return True

    async def accept_step(self, user: User, step: int) -> bool:
        """Spend the time step of an enabled factor's code: True for the one request that
        moves `totp_last_step` past it, False if it (or a later one) was already used."""
        result = await self.session.execute(
            update(User)
            .where(
                User.id == user.id,
                User.totp_enabled_at.is_not(None),
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return False
        set_committed_value(user, "totp_last_step", step)
        return True


class RecoveryCodeRepository(RepositoryBase[RecoveryCode]):
    model = RecoveryCode

    async def replace(self, user_id: uuid.UUID, code_hashes: Iterable[str], at: datetime) -> None:
        """The user's codes are now these (the earlier ones, used or not, are gone)."""
        await self.delete_all(user_id)
        self.session.add_all(
            RecoveryCode(user_id=user_id, code_hash=code_hash, created_at=at)
            for code_hash in code_hashes
        )
        await self.session.flush()

    async def spend(self, user_id: uuid.UUID, code_hash: str, at: datetime) -> bool:
        """Compare-and-set: exactly one concurrent caller can spend an unused code."""
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) > 0

    async def delete_all(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
