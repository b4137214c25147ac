"""Account and session use cases. Services flush; the request boundary commits."""

import math
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import (
    CannotChangeOwnAdminRole,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    TooManyLoginAttempts,
    WrongPassword,
)
from app.auth.models import LoginFailure, RefreshToken, User
from app.auth.repository import (
    ApiKeyRepository,
    LoginFailureRepository,
    RefreshTokenRepository,
    UserRepository,
)
from app.auth.schemas import TokenPair, UserAdminUpdate, UserRegister, UserUpdate
from app.config import Settings
from app.core import security
from app.core.audit import record_audit
from app.core.clock import now
from app.core.errors import NotFound, ValidationFailed
from app.core.ids import uuid7
from app.core.pagination import PageParams, SortKey, paginate


async def register(session: AsyncSession, data: UserRegister) -> User:
    users = UserRepository(session)
    if await users.email_exists(data.email):
        raise EmailTaken()
    user = User(
        email=data.email.lower(),
        password_hash=await security.hash_password(data.password),
        display_name=data.display_name,
    )
    return await users.save_unique(user, EmailTaken())


async def create_admin(session: AsyncSession, *, email: str, password: str, name: str) -> User:
    """Create an admin, or promote the existing account with that email (CLI)."""
    users = UserRepository(session)
    user = await users.get_by_email(email)
    if user is None:
        user = await register(
            session, UserRegister(email=email, password=password, display_name=name)
        )
    user.is_admin = True
    await record_audit(
        session,
        actor_id=None,
        action="user.admin_granted",
        target_type="user",
        target_id=user.id,
        reason="create-admin command",
    )
    await session.flush()
    return user


async def _issue_pair(
    session: AsyncSession, settings: Settings, user: User, family_id: uuid.UUID
) -> TokenPair:
    secret = settings.jwt_secret.get_secret_value()
    refresh_id = uuid7()
    await RefreshTokenRepository(session).add(
        RefreshToken(
            id=refresh_id,
            family_id=family_id,
            user_id=user.id,
            expires_at=now() + settings.refresh_token_ttl,
        )
    )
    return TokenPair(
        access_token=security.encode_token(
            secret,
            subject=str(user.id),
            token_type=security.TokenType.access,
            ttl=settings.access_token_ttl,
            token_id=uuid7(),
        ),
        refresh_token=security.encode_token(
            secret,
            subject=str(user.id),
            token_type=security.TokenType.refresh,
            ttl=settings.refresh_token_ttl,
            token_id=refresh_id,
            extra={"fam": str(family_id)},
        ),
        expires_in=int(settings.access_token_ttl.total_seconds()),
        refresh_expires_in=int(settings.refresh_token_ttl.total_seconds()),
    )


async def _refuse_if_locked_out(
    failures: LoginFailureRepository, settings: Settings, email: str
) -> None:
    """429 after too many wrong passwords for one email within the window (the same count
    for logins and for the password confirmations of a signed-in user)."""
    window_start = now() - settings.login_failure_window
    count, oldest = await failures.recent(email, window_start)
    if count >= settings.login_max_failures and oldest is not None:
        retry_after = (oldest + settings.login_failure_window - now()).total_seconds()
        raise TooManyLoginAttempts(retry_after_seconds=math.ceil(retry_after))


async def login(
    session: AsyncSession, settings: Settings, *, email: str, password: str
) -> TokenPair:
    """Password login. Unknown email and wrong password look the same to the caller."""
    email = email.strip().lower()
    failures = LoginFailureRepository(session)
    await _refuse_if_locked_out(failures, settings, email)

    users = UserRepository(session)
    user = await users.get_by_email(email)
    if (
        not await security.verify_password(user.password_hash if user else None, password)
        or user is None
    ):
        await failures.add(LoginFailure(email=email))
        raise InvalidCredentials()

    await failures.clear(email)
    assert user.password_hash is not None  # verified above
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password(password)
    return await _issue_pair(session, settings, user, family_id=uuid7())


async def refresh(session: AsyncSession, settings: Settings, refresh_token: str) -> TokenPair:
    """Rotate: spend the presented token and issue a new pair in the same family.

    Presenting an already spent token means it leaked (or was replayed): the whole family is
    revoked, so whoever holds the newer token is logged out too.
    """
    claims = _decode_refresh(settings, refresh_token)
    tokens = RefreshTokenRepository(session)
    at = now()
    if not await tokens.spend(claims.token_id, at):
        stored = await tokens.get(claims.token_id)
        if stored is None or (stored.revoked_at is not None and stored.spent_at is None):
            raise InvalidToken("the refresh token was revoked")
        await tokens.revoke_family(stored.family_id, at)
        raise RefreshTokenReused()
    stored = await tokens.get(claims.token_id)
    user = await UserRepository(session).get_active(uuid.UUID(claims.subject))
    if stored is None or user is None:
        raise InvalidToken()
    return await _issue_pair(session, settings, user, family_id=stored.family_id)


async def logout(session: AsyncSession, settings: Settings, refresh_token: str) -> None:
    """End the session the refresh token belongs to (its whole family). Idempotent."""
    claims = _decode_refresh(settings, refresh_token)
    tokens = RefreshTokenRepository(session)
    stored = await tokens.get(claims.token_id)
    if stored is None:
        raise InvalidToken()
    await tokens.revoke_family(stored.family_id, now())


def _decode_refresh(settings: Settings, token: str) -> security.TokenClaims:
    try:
        return security.decode_token(
            settings.jwt_secret.get_secret_value(), token, expected_type=security.TokenType.refresh
        )
    except security.InvalidToken as error:
        raise InvalidToken() from error


async def authenticate(session: AsyncSession, settings: Settings, access_token: str) -> User:
    try:
        claims = security.decode_token(
            settings.jwt_secret.get_secret_value(),
            access_token,
            expected_type=security.TokenType.access,
        )
        user_id = uuid.UUID(claims.subject)
    except (security.InvalidToken, ValueError) as error:
        raise InvalidToken() from error
    user = await UserRepository(session).get_active(user_id)
    if user is None:
        raise InvalidToken()
    return user


async def update_me(
    session: AsyncSession, settings: Settings, user: User, data: UserUpdate
) -> User:
    if data.email is not None or data.new_password is not None:
        assert data.current_password is not None  # enforced by UserUpdate
        await require_password(session, settings, user, data.current_password)
        # "The password is not the email" must hold for the resulting pair.
        email = (data.email or user.email).lower()
        password = data.new_password or data.current_password
        if password.strip().lower() == email:
            field = "new_password" if data.new_password else "email"
            raise ValidationFailed(["body", field], "the password must not be the email address")
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.email is not None:
        user.email = data.email.lower()
    if data.new_password is not None:
        user.password_hash = await security.hash_password(data.new_password)
        # A changed password ends every session, the attacker's included.
        await RefreshTokenRepository(session).revoke_all_for_user(user.id, now())
    return await UserRepository(session).save_unique(user, EmailTaken())


async def lock(session: AsyncSession, user: User) -> None:
    """Row-lock the account (PostgreSQL) and refresh the session's copy of it."""
    await UserRepository(session).get_for_update(user.id, key_share=True)


async def require_password(
    session: AsyncSession, settings: Settings, user: User, password: str
) -> None:
    """The signed-in user confirms a sensitive change with their password; wrong guesses
    count towards the same lockout as failed logins, so a stolen access token cannot be
    used to find the password."""
    failures = LoginFailureRepository(session)
    await _refuse_if_locked_out(failures, settings, user.email)
    if not await security.verify_password(user.password_hash, password):
        await failures.add(LoginFailure(email=user.email))
        raise WrongPassword()


DELETED_DISPLAY_NAME = "Deleted user"


async def erase_account(session: AsyncSession, user: User) -> None:
    """The account's part of its deletion: nothing left that names or reaches the person, no
    way in (sessions and API keys revoked, no password), and the email free for a new
    account. The row stays, for what refers to it (orders, reviews, messages)."""
    at = now()
    await LoginFailureRepository(session).clear(user.email)
    await RefreshTokenRepository(session).revoke_all_for_user(user.id, at)
    await ApiKeyRepository(session).revoke_all_for_user(user.id, at)
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.display_name = DELETED_DISPLAY_NAME
    user.password_hash = None
    user.deleted_at = at
    await session.flush()


async def active_among(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` whose accounts exist and are not deleted."""
    return await UserRepository(session).active_among(user_ids)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await UserRepository(session).get_active(user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def set_seller_status(session: AsyncSession, user_id: uuid.UUID, status: str) -> None:
    """Called by the sellers service whenever the user's shop changes state."""
    user = await get_user(session, user_id)
    user.seller_status = status
    await session.flush()


async def list_users(
    session: AsyncSession, page: PageParams, *, email_prefix: str | None
) -> tuple[list[User], str | None]:
    users = UserRepository(session)
    return await paginate(
        session, users.search(email_prefix), keys=[SortKey(User.id, descending=True)], page=page
    )


async def set_admin_role(
    session: AsyncSession, actor: User, user_id: uuid.UUID, data: UserAdminUpdate
) -> User:
    user = await get_user(session, user_id)
    if user.id == actor.id and not data.is_admin:
        raise CannotChangeOwnAdminRole()
    if user.is_admin != data.is_admin:
        user.is_admin = data.is_admin
        await record_audit(
            session,
            actor_id=actor.id,
            action="user.admin_granted" if data.is_admin else "user.admin_revoked",
            target_type="user",
            target_id=user.id,
            reason=data.reason,
        )
    await session.flush()
    return user


async def purge_expired(session: AsyncSession, settings: Settings) -> int:
    """Worker job: drop refresh tokens past expiry and login failures past the window."""
    at = now()
    purged = await RefreshTokenRepository(session).purge_expired(at)
    purged += await LoginFailureRepository(session).purge_older_than(
        at - settings.login_failure_window
    )
    return purged
