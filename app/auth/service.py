"""Account and session use cases. Services flush; the request boundary commits."""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import account_mail
from app.auth.exceptions import (
    CannotChangeOwnAdminRole,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    WrongPassword,
)
from app.auth.lockout import PasswordAttempts
from app.auth.models import ApiKey, AuthSession, RefreshToken, User
from app.auth.passwords import weakness
from app.auth.principal import Principal
from app.auth.repository import (
    AccountTokenRepository,
    ApiKeyRepository,
    AuthSessionRepository,
    LoginFailureRepository,
    RefreshTokenRepository,
    UserRepository,
)
from app.auth.schemas import TokenPair, UserAdminUpdate, UserRegister, UserUpdate
from app.auth.totp import service as totp
from app.auth.totp.exceptions import TotpRequired
from app.config import Settings
from app.core import security
from app.core.audit import record_audit
from app.core.clock import now
from app.core.errors import NotFound, ValidationFailed
from app.core.ids import uuid7
from app.core.mail.repository import MailRepository
from app.core.pagination import PageParams, SortKey, paginate

SESSION_CLAIM = "sid"
"""The access token's claim naming its session (the refresh-token family of its login)."""


async def create_account(
    session: AsyncSession, data: UserRegister, *, verified: bool = False
) -> User:
    """The account itself (409 `email_taken` if the address has one). `verified`: the
    caller vouches for the address (the operator's commands, demo data)."""
    user = User(
        email=data.email.lower(),
        password_hash=await security.hash_password(data.password),
        display_name=data.display_name,
        email_verified_at=now() if verified else None,
    )
    return await UserRepository(session).save_unique(user, EmailTaken())


async def register(session: AsyncSession, settings: Settings, data: UserRegister) -> None:
    """A new account, its address to be confirmed by a mailed link. An address that has an
    account already gets the same answer (and the same work: the password is hashed either
    way), and its owner a note that someone tried: the answer tells a stranger nothing."""
    users = UserRepository(session)
    existing = await users.get_by_email(data.email)
    may_notify = await account_mail.registration_notices_left(session, settings, data.email)
    if existing is None:
        try:
            user = await create_account(session, data)
        except EmailTaken:  # registered by a concurrent request since the lookup
            existing = await users.get_by_email(data.email)
        else:
            await account_mail.send_verification(session, settings, user, user.email)
            await session.flush()
            return
    else:
        await security.hash_password(data.password)
    if existing is not None and may_notify:
        account_mail.tell_registration_attempt(session, settings, existing)
    await session.flush()


async def create_admin(session: AsyncSession, *, email: str, password: str, name: str) -> User:
    """Create an admin, or promote the existing account with that email (CLI)."""
    users = UserRepository(session)
    user = await users.get_by_email(email)
    if user is None:
        # The operator who runs the command vouches for the address.
        user = await create_account(
            session,
            UserRegister(email=email, password=password, display_name=name),
            verified=True,
        )
    elif not user.is_admin:
        # A role change ends the sessions opened before it (see `set_admin_role`).
        await end_all_sessions(session, user.id)
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
    """A refresh token of the session `family_id`, and an access token naming the session
    (`sid`), so that ending the session ends the access token too."""
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
            extra={SESSION_CLAIM: str(family_id)},
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


async def login(
    session: AsyncSession,
    settings: Settings,
    attempts: PasswordAttempts,
    *,
    email: str,
    password: str,
    second_factor: str | None = None,
) -> TokenPair:
    """Password login: a new session. Unknown email and wrong password look the same to the
    caller, and count the same towards the lockout. An account with a second factor also
    needs `second_factor` (a TOTP or recovery code); a wrong one counts as a wrong password."""
    attempt, password_hash = await attempts.begin_login(email)
    if not await security.verify_password(password_hash, password):
        raise InvalidCredentials()  # the attempt stays recorded: a failure
    user = await UserRepository(session).get_by_email(attempt.email)
    if user is None or user.password_hash != password_hash:
        raise InvalidCredentials()  # deleted or given a new password meanwhile
    try:
        await totp.check_second_factor(session, settings, user, second_factor)
    except TotpRequired:
        # The right password without a code yet is no failure; a wrong code's attempt stays.
        await PasswordAttempts.succeeded(session, attempt, reset=False)
        raise
    await PasswordAttempts.succeeded(session, attempt, reset=True)
    assert user.password_hash is not None  # verified above
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password(password)
    family_id = uuid7()
    await AuthSessionRepository(session).add(
        AuthSession(id=family_id, user_id=user.id, created_at=now())
    )
    return await _issue_pair(session, settings, user, family_id=family_id)


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
        await _end_session(session, stored.family_id, at)
        raise RefreshTokenReused()
    stored = await tokens.get(claims.token_id)
    if stored is None:
        raise InvalidToken()
    # Its session must still be live and its user active: ending a session is what ends
    # its access tokens, so it must end its refreshing too, whatever happened to the token.
    user = await UserRepository(session).get_in_live_session(
        uuid.UUID(claims.subject), stored.family_id
    )
    if user is None:
        raise InvalidToken()
    return await _issue_pair(session, settings, user, family_id=stored.family_id)


async def logout(session: AsyncSession, settings: Settings, refresh_token: str) -> None:
    """End the session the refresh token belongs to: its whole family of refresh tokens and,
    at once, every access token issued in it. Idempotent."""
    claims = _decode_refresh(settings, refresh_token)
    stored = await RefreshTokenRepository(session).get(claims.token_id)
    if stored is None:
        raise InvalidToken()
    await _end_session(session, stored.family_id, now())


async def _end_session(session: AsyncSession, family_id: uuid.UUID, at: datetime) -> None:
    await RefreshTokenRepository(session).revoke_family(family_id, at)
    await AuthSessionRepository(session).revoke(family_id, at)


async def end_all_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every session of the user ends now, on every device: their access tokens (refused from
    the next request on, see `authenticate`) and their refresh tokens. API keys are not
    sessions and stay (`api_keys.revoke_all` ends those)."""
    at = now()
    await AuthSessionRepository(session).revoke_all_for_user(user_id, at)
    await RefreshTokenRepository(session).revoke_all_for_user(user_id, at)


def _decode_refresh(settings: Settings, token: str) -> security.TokenClaims:
    try:
        return security.decode_token(
            settings.jwt_secret.get_secret_value(), token, expected_type=security.TokenType.refresh
        )
    except security.InvalidToken as error:
        raise InvalidToken() from error


async def authenticate(session: AsyncSession, settings: Settings, access_token: str) -> User:
    """The user of a valid access token whose session has not ended (one query).

    Tokens without a session claim were issued before sessions were tracked; they are
    refused (401 `invalid_token`), and the client refreshes or logs in again."""
    try:
        claims = security.decode_token(
            settings.jwt_secret.get_secret_value(),
            access_token,
            expected_type=security.TokenType.access,
        )
        user_id = uuid.UUID(claims.subject)
        session_id = uuid.UUID(str(claims.extra[SESSION_CLAIM]))
    except (security.InvalidToken, ValueError) as error:
        raise InvalidToken() from error
    except KeyError as error:
        raise InvalidToken("the token names no session; log in again") from error
    user = await UserRepository(session).get_in_live_session(user_id, session_id)
    if user is None:
        raise InvalidToken()
    return user


@dataclass(frozen=True, slots=True)
class AccountChange:
    user: User
    active_api_keys: list[ApiKey] | None
    """After a password change: the keys that still work (null otherwise)."""


async def update_me(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    data: UserUpdate,
    *,
    attempts: PasswordAttempts,
) -> AccountChange:
    """Display name, email (pending until verified), password. A new password ends every
    session, the attacker's included, but leaves API keys alone: they are the shop's
    integrations, and a password change (often routine) must not stop its software. The
    answer lists the keys that still work, so that an owner who fears a leak sees them and
    can revoke them all at once."""
    user = principal.user
    if data.email is not None or data.new_password is not None:
        assert data.current_password is not None  # enforced by UserUpdate
        await require_password(session, attempts, user, data.current_password)
        # "The password is not the email" and "not guessable from the account" must hold
        # for the resulting account (a right current password counts as no failure, so these
        # refusals cost the lockout nothing).
        email = (data.email or user.email).lower()
        password = data.new_password or data.current_password
        if password.strip().lower() == email:
            field = "new_password" if data.new_password else "email"
            raise ValidationFailed(["body", field], "the password must not be the email address")
        if data.new_password is not None:
            reason = weakness(
                data.new_password, user_inputs=[email, data.display_name or user.display_name]
            )
            if reason is not None:
                raise ValidationFailed(["body", "new_password"], reason)
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.email is not None:
        await _ask_for_email(session, settings, user, data.email.lower())
    active_api_keys = None
    if data.new_password is not None:
        user.password_hash = await security.hash_password(data.new_password)
        await end_all_sessions(session, user.id)
        active_api_keys = await ApiKeyRepository(session).list_active(user.id, now())
        account_mail.tell_password_changed(
            session, settings, user, "from a signed-in session, with the current password"
        )
    await session.flush()
    return AccountChange(user=user, active_api_keys=active_api_keys)


async def _ask_for_email(session: AsyncSession, settings: Settings, user: User, email: str) -> None:
    """A new address becomes the login only once a link mailed to it is followed; the
    current one is told. Whether another account has it is not said here (that would tell a
    signed-in stranger who has an account): the link, which only the address's owner
    sees, says so."""
    if email == user.email:
        user.pending_email = None
        return
    user.pending_email = email
    await account_mail.send_verification(session, settings, user, email)
    account_mail.tell_email_change(session, user, email)


async def lock(session: AsyncSession, user: User) -> None:
    """Row-lock the account (PostgreSQL) and refresh the session's copy of it."""
    await UserRepository(session).get_for_update(user.id, key_share=True)


async def require_password(
    session: AsyncSession, attempts: PasswordAttempts, user: User, password: str
) -> None:
    """The signed-in user confirms a sensitive change with their password (a fresh proof of
    the person, which an access token alone is not); wrong guesses count towards the same
    lockout as failed logins, so a stolen access token cannot be used to find the
    password."""
    attempt = await attempts.begin_confirmation(session, user.id, user.email)
    if not await security.verify_password(user.password_hash, password):
        raise WrongPassword()  # keeps the request's changes: the attempt stays, a failure
    await PasswordAttempts.succeeded(session, attempt, reset=False)


DELETED_DISPLAY_NAME = "Deleted user"


async def erase_account(session: AsyncSession, user: User) -> None:
    """The account's part of its deletion: nothing left that names or reaches the person, no
    way in (sessions and API keys revoked, no password), and the email free for a new
    account. The row stays, for what refers to it (orders, reviews, messages)."""
    at = now()
    await LoginFailureRepository(session).clear(user.email)
    await end_all_sessions(session, user.id)
    await ApiKeyRepository(session).revoke_all_for_user(user.id, at)
    await MailRepository(session).delete_of_user(user.id)
    await totp.forget(session, user)
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.pending_email = None
    user.email_opt_outs = []
    user.display_name = DELETED_DISPLAY_NAME
    user.password_hash = None
    user.deleted_at = at
    await session.flush()


async def active_among(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` whose accounts exist and are not deleted."""
    return await UserRepository(session).active_among(user_ids)


@dataclass(frozen=True, slots=True)
class Contact:
    """How to reach a live account by mail, and what it does not want by mail."""

    email: str
    display_name: str
    email_opt_outs: frozenset[str]


@dataclass(frozen=True, slots=True)
class LiveAccounts:
    """Which accounts may still be written to: the live users among those asked, and the
    live owner of each shop asked (a shop whose owner was deleted is absent), with how to
    reach each."""

    users: frozenset[uuid.UUID]
    shop_owners: Mapping[uuid.UUID, uuid.UUID]
    contacts: Mapping[uuid.UUID, Contact]


async def live_accounts(
    session: AsyncSession, user_ids: Iterable[uuid.UUID], shop_ids: Iterable[uuid.UUID]
) -> LiveAccounts:
    """One query for the users and the shops' owners a batch of notices goes to."""
    users, shops = set(user_ids), set(shop_ids)
    rows = await UserRepository(session).live_among(users, shops)
    return LiveAccounts(
        frozenset(row[0] for row in rows if row[0] in users),
        {shop_id: user_id for user_id, shop_id, *_ in rows if shop_id in shops},
        {
            user_id: Contact(email, name, frozenset(opt_outs or ()))
            for user_id, _, email, name, opt_outs in rows
        },
    )


async def change_email_opt_outs(
    session: AsyncSession, user: User, *, turn_off: Iterable[str], turn_on: Iterable[str] = ()
) -> None:
    """Adds and removes notification kinds the person does not want by email (the messaging
    domain decides which may be turned off), on the row locked and read afresh, so that a
    one-click unsubscribe and a settings change at the same moment both count."""
    await lock(session, user)
    user.email_opt_outs = sorted((set(user.email_opt_outs) | set(turn_off)) - set(turn_on))
    await session.flush()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await UserRepository(session).get_active(user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def set_shop(
    session: AsyncSession, user_id: uuid.UUID, shop_id: uuid.UUID, status: str
) -> None:
    """Called by the sellers service whenever the user's shop is created or changes state."""
    user = await get_user(session, user_id)
    user.shop_id, user.seller_status = shop_id, status
    await session.flush()


async def list_users(
    session: AsyncSession, page: PageParams, *, email_prefix: str | None, text: str | None = None
) -> tuple[list[User], str | None]:
    """Active accounts, newest first: whose email starts with `email_prefix`, and whose email
    or display name contains `text` (each when given)."""
    users = UserRepository(session)
    return await paginate(
        session,
        users.search(email_prefix, text),
        keys=[SortKey(User.id, descending=True)],
        page=page,
    )


async def set_admin_role(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, data: UserAdminUpdate
) -> User:
    """Grant or revoke the admin role. Either way every session of the user ends: a revoked
    admin (perhaps a compromised account) keeps no open session, and a new one starts
    afresh with the role. An admin cannot revoke their own role, so this never ends the
    acting admin's session; granting it to themselves changes nothing."""
    user = await get_user(session, user_id)
    if user.id == principal.user_id and not data.is_admin:
        raise CannotChangeOwnAdminRole()
    if user.is_admin != data.is_admin:
        user.is_admin = data.is_admin
        await end_all_sessions(session, user.id)
        await record_audit(
            session,
            actor_id=principal.user_id,
            action="user.admin_granted" if data.is_admin else "user.admin_revoked",
            target_type="user",
            target_id=user.id,
            reason=data.reason,
        )
    await session.flush()
    return user


async def purge_expired(session: AsyncSession, settings: Settings) -> int:
    """Worker job: drop refresh tokens past expiry, the sessions left without any, and login
    failures past the window."""
    at = now()
    purged = await RefreshTokenRepository(session).purge_expired(at)
    purged += await AuthSessionRepository(session).purge_without_tokens()
    purged += await LoginFailureRepository(session).purge_older_than(
        at - settings.login_failure_window
    )
    purged += await AccountTokenRepository(session).purge_expired(at)
    return purged
