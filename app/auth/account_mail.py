"""The account's own mail — proof of an address, a password reset, security notices — and the
single-use tokens it carries. Security mail is sent whatever the person's notification
settings say, and carries no unsubscribe link."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import AccountToken, AccountTokenPurpose, User
from app.auth.repository import AccountTokenRepository, UserRepository
from app.config import Settings
from app.core.clock import now
from app.core.mail.queue import queue
from app.core.mail.repository import MailRepository
from app.core.security import hash_token
from app.core.text import human_time

PASSWORD_RESET = "password_reset"
VERIFY_EMAIL_PAGE = "verify-email"
RESET_PASSWORD_PAGE = "reset-password"


def page_link(settings: Settings, page: str, token: str | None = None) -> str:
    """A link to the frontend's `page` (`MARKETPLACE_EMAIL_LINK_BASE_URL`), with the token."""
    link = f"{settings.email_link_base}/{page}"
    return f"{link}?token={token}" if token else link


async def _issue(
    session: AsyncSession,
    user: User,
    purpose: AccountTokenPurpose,
    email: str,
    ttl: timedelta,
) -> tuple[str, datetime]:
    """A new token (the earlier unused ones of its purpose retired): its plain text, which
    only the mail ever holds, and when it expires."""
    at = now()
    tokens = AccountTokenRepository(session)
    await tokens.retire_unused(user.id, purpose, at)
    plain = secrets.token_urlsafe(32)
    expires_at = at + ttl
    session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(plain),
            email=email,
            created_at=at,
            expires_at=expires_at,
        )
    )
    return plain, expires_at


async def send_verification(
    session: AsyncSession, settings: Settings, user: User, email: str
) -> None:
    """Mails `email` a link proving it is the person's (their address, or the new one they
    asked for)."""
    token, expires_at = await _issue(
        session, user, AccountTokenPurpose.verify_email, email, settings.email_verification_ttl
    )
    queue(
        session,
        to=email,
        template="verify_email",
        context={
            "display_name": user.display_name,
            "email": email,
            "token": token,
            "link": page_link(settings, VERIFY_EMAIL_PAGE, token),
            "expires_at": human_time(expires_at),
        },
        user_id=user.id,
    )


async def send_password_reset(session: AsyncSession, settings: Settings, user: User) -> None:
    token, expires_at = await _issue(
        session, user, AccountTokenPurpose.password_reset, user.email, settings.password_reset_ttl
    )
    queue(
        session,
        to=user.email,
        template=PASSWORD_RESET,
        context={
            "display_name": user.display_name,
            "token": token,
            "link": page_link(settings, RESET_PASSWORD_PAGE, token),
            "expires_at": human_time(expires_at),
        },
        user_id=user.id,
    )


REGISTRATION_ATTEMPT = "registration_attempt"
_NOTICE_WINDOW = timedelta(hours=1)


async def registration_notices_left(session: AsyncSession, settings: Settings, email: str) -> bool:
    """Whether `email` may get another "someone tried to register" note this hour. Asked
    for every registration, taken address or not, so that both cost the same."""
    sent = await MailRepository(session).count_to_since(
        email, REGISTRATION_ATTEMPT, now() - _NOTICE_WINDOW
    )
    return sent < settings.registration_notices_per_hour


def tell_registration_attempt(session: AsyncSession, settings: Settings, user: User) -> None:
    """Registering with a taken address answers as if it were free; its owner hears of it."""
    queue(
        session,
        to=user.email,
        template=REGISTRATION_ATTEMPT,
        context={
            "display_name": user.display_name,
            "email": user.email,
            "reset_link": page_link(settings, RESET_PASSWORD_PAGE),
        },
        user_id=user.id,
    )


def tell_password_changed(session: AsyncSession, settings: Settings, user: User, how: str) -> None:
    queue(
        session,
        to=user.email,
        template="password_changed",
        context={
            "display_name": user.display_name,
            "how": how,
            "reset_link": page_link(settings, RESET_PASSWORD_PAGE),
        },
        user_id=user.id,
    )


def tell_email_change(session: AsyncSession, user: User, new_email: str) -> None:
    """The current address hears that another was asked for: if an attacker holding a
    session asks, the owner learns it before the change can take effect."""
    queue(
        session,
        to=user.email,
        template="email_change_requested",
        context={"display_name": user.display_name, "email": user.email, "new_email": new_email},
        user_id=user.id,
    )


async def spend(
    session: AsyncSession, token: str, purpose: AccountTokenPurpose
) -> tuple[User, str] | None:
    """The live account and address a mailed token proves, spending the token; None when it
    is unknown, spent, expired, or its account is gone."""
    spent = await AccountTokenRepository(session).spend(hash_token(token), purpose, now())
    if spent is None:
        return None
    user_id, email = spent
    user = await UserRepository(session).get_for_update(user_id, key_share=True)
    if user is None or user.deleted_at is not None:
        return None
    return user, email
