import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, Update, bindparam, delete, exists, func, or_, select, update

from app.auth.models import (
    AccountToken,
    AccountTokenPurpose,
    ApiKey,
    AuthSession,
    LoginFailure,
    PasswordResetRequest,
    RefreshToken,
    User,
)
from app.core.repository import RepositoryBase, claim_one, locked

# Built once: every authenticated request asks the first, every change that notifies anyone
# the second, and building them cost about as much as running them.
_USER_IN_LIVE_SESSION = (
    select(User)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.deleted_at.is_(None),
        User.id == bindparam("user_id"),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
    )
)

_LIVE_AMONG = select(
    User.id, User.shop_id, User.email, User.display_name, User.email_opt_outs
).where(
    User.deleted_at.is_(None),
    or_(
        User.id.in_(bindparam("user_ids", expanding=True)),
        User.shop_id.in_(bindparam("shop_ids", expanding=True)),
    ),
)


class UserRepository(RepositoryBase[User]):
    model = User

    def active(self) -> Select[User]:
        return select(User).where(User.deleted_at.is_(None))

    async def get_active(self, user_id: uuid.UUID) -> User | None:
        return await self.get_one_or_none(self.active().where(User.id == user_id))

    async def get_in_live_session(self, user_id: uuid.UUID, session_id: uuid.UUID) -> User | None:
        """The user, if active and `session_id` is one of their sessions that has not ended:
        one query (a join), since every authenticated request asks."""
        found = await self.session.scalars(
            _USER_IN_LIVE_SESSION, {"user_id": user_id, "session_id": session_id}
        )
        return found.first()

    async def active_among(self, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(user_ids)
        if not ids:
            return set()
        statement = select(User.id).where(User.id.in_(ids), User.deleted_at.is_(None))
        return set((await self.session.scalars(statement)).all())

    async def live_among(
        self, user_ids: Iterable[uuid.UUID], shop_ids: Iterable[uuid.UUID]
    ) -> list[tuple[uuid.UUID, uuid.UUID | None, str, str, list[str]]]:
        """(user id, shop id, email, display name, email opt-outs) of the accounts not
        deleted among `user_ids` and the owners of `shop_ids`, in one query."""
        users, shops = list(user_ids), list(shop_ids)
        if not users and not shops:
            return []
        rows = await self.session.execute(_LIVE_AMONG, {"user_ids": users, "shop_ids": shops})
        return [(row[0], row[1], row[2], row[3], row[4]) for row in rows]

    async def get_by_email(self, email: str) -> User | None:
        return await self.get_one_or_none(self.active().where(User.email == email.lower()))

    def search(self, email_prefix: str | None, text: str | None = None) -> Select[User]:
        """Active accounts; `email_prefix`: whose email starts with it; `text`: whose email
        or display name contains it (case-insensitively)."""
        statement = self.active()
        if email_prefix:
            escaped = _like_escaped(email_prefix.lower())
            statement = statement.where(User.email.like(f"{escaped}%", escape="\\"))
        if text:
            pattern = f"%{_like_escaped(text.lower())}%"
            statement = statement.where(
                or_(
                    User.email.like(pattern, escape="\\"),
                    func.lower(User.display_name).like(pattern, escape="\\"),
                )
            )
        return statement


class AuthSessionRepository(RepositoryBase[AuthSession]):
    model = AuthSession

    async def revoke(self, session_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )

    async def revoke_all_for_user(self, user_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(_revoke_all_of_user(AuthSession, user_id, at))

    async def purge_without_tokens(self) -> int:
        """Sessions none of whose refresh tokens are left (run after those are purged): their
        access tokens, issued with a refresh token and shorter-lived, are expired too."""
        tokens_left = exists().where(RefreshToken.family_id == AuthSession.id)
        result = await self.session.execute(delete(AuthSession).where(~tokens_left))
        return int(getattr(result, "rowcount", 0) or 0)


class RefreshTokenRepository(RepositoryBase[RefreshToken]):
    model = RefreshToken

    async def spend(self, token_id: uuid.UUID, at: datetime) -> bool:
        """Compare-and-set: exactly one concurrent caller can spend a live token."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.spent_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > at,
            )
            .values(spent_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_family(self, family_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )

    async def revoke_all_for_user(self, user_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(_revoke_all_of_user(RefreshToken, user_id, at))

    async def purge_expired(self, at: datetime) -> int:
        result = await self.session.execute(
            delete(RefreshToken).where(RefreshToken.expires_at <= at)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class LoginFailureRepository(RepositoryBase[LoginFailure]):
    model = LoginFailure

    async def recent(self, email: str, since: datetime) -> tuple[int, datetime | None]:
        """How many failures since `since`, and the oldest of them."""
        statement = select(func.count(), func.min(LoginFailure.created_at)).where(
            LoginFailure.email == email, LoginFailure.created_at > since
        )
        count, oldest = (await self.session.execute(statement)).one()
        return int(count), oldest

    async def clear(self, email: str) -> None:
        await self.session.execute(delete(LoginFailure).where(LoginFailure.email == email))

    async def remove(self, attempt_id: int) -> None:
        await self.session.execute(delete(LoginFailure).where(LoginFailure.id == attempt_id))

    async def purge_older_than(self, at: datetime) -> int:
        result = await self.session.execute(
            delete(LoginFailure).where(LoginFailure.created_at <= at)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class ApiKeyRepository(RepositoryBase[ApiKey]):
    model = ApiKey

    async def revoke_all_for_user(self, user_id: uuid.UUID, at: datetime) -> int:
        result = await self.session.execute(_revoke_all_of_user(ApiKey, user_id, at))
        return int(getattr(result, "rowcount", 0) or 0)

    def of_user(self, user_id: uuid.UUID) -> Select[ApiKey]:
        return select(ApiKey).where(ApiKey.user_id == user_id)

    async def get_of_user(
        self, key_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
    ) -> ApiKey | None:
        statement = self.of_user(user_id).where(ApiKey.id == key_id)
        return await self.get_one_or_none(locked(statement) if lock else statement)

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self.get_one_or_none(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def _active(self, user_id: uuid.UUID, at: datetime) -> Select[ApiKey]:
        return self.of_user(user_id).where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > at)

    async def count_active(self, user_id: uuid.UUID, at: datetime) -> int:
        statement = select(func.count()).select_from(self._active(user_id, at).subquery())
        return int(await self.session.scalar(statement) or 0)

    async def list_active(self, user_id: uuid.UUID, at: datetime) -> list[ApiKey]:
        """Newest first (ids are time-ordered); at most `MAX_ACTIVE_KEYS` of them."""
        statement = self._active(user_id, at).order_by(ApiKey.id.desc())
        return list((await self.session.scalars(statement)).all())


def _revoke_all_of_user(
    model: type[RefreshToken] | type[ApiKey] | type[AuthSession], user_id: uuid.UUID, at: datetime
) -> Update:
    """A user's sessions, tokens or API keys that are still live, revoked at `at`."""
    return (
        update(model)
        .where(model.user_id == user_id, model.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )


def _like_escaped(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class AccountTokenRepository(RepositoryBase[AccountToken]):
    model = AccountToken

    async def spend(
        self, token_hash: str, purpose: AccountTokenPurpose, at: datetime
    ) -> tuple[uuid.UUID, str] | None:
        """Marks the token used if it is unused and unexpired (compare-and-set, so of two
        requests presenting it at once one wins): its (user id, address), or None."""
        statement = (
            update(AccountToken)
            .where(
                AccountToken.token_hash == token_hash,
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
                AccountToken.expires_at > at,
            )
            .values(used_at=at)
            .returning(AccountToken.user_id, AccountToken.email)
        )
        row = (await self.session.execute(statement)).first()
        return None if row is None else (row[0], row[1])

    async def retire_unused(
        self, user_id: uuid.UUID, purpose: AccountTokenPurpose, at: datetime
    ) -> None:
        """The user's earlier tokens of `purpose` stop working: only the newest mail's does."""
        await self.session.execute(
            update(AccountToken)
            .where(
                AccountToken.user_id == user_id,
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
            )
            .values(used_at=at)
        )

    async def purge_expired(self, at: datetime) -> int:
        result = await self.session.execute(
            delete(AccountToken).where(AccountToken.expires_at <= at)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class PasswordResetRequestRepository(RepositoryBase[PasswordResetRequest]):
    model = PasswordResetRequest

    async def claim_oldest(self) -> PasswordResetRequest | None:
        return await claim_one(
            self.session, select(PasswordResetRequest).order_by(PasswordResetRequest.id)
        )

    async def remove(self, request: PasswordResetRequest) -> None:
        await self.session.delete(request)
