"""Password reset by mail. The request only queues the address, the same work for a known
and an unknown one, so neither the answer nor its time tells a stranger whether an account
exists; the worker looks the address up and mails a single-use token (or nothing)."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import account_mail, service
from app.auth.exceptions import AccountTokenInvalid
from app.auth.models import AccountTokenPurpose, PasswordResetRequest
from app.auth.passwords import weakness
from app.auth.repository import (
    ApiKeyRepository,
    LoginFailureRepository,
    PasswordResetRequestRepository,
    UserRepository,
)
from app.auth.totp import service as totp
from app.config import Settings
from app.core import security
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.mail.repository import MailRepository

_MAIL_WINDOW = timedelta(hours=1)


async def request(session: AsyncSession, email: str) -> None:
    session.add(PasswordResetRequest(email=email.lower(), requested_at=now()))
    await session.flush()


async def handle_one_request(session: AsyncSession, settings: Settings) -> bool:
    """Worker unit: the oldest queued request, answered with a mail if the address is an
    account's and has not had `password_reset_mails_per_hour` already. False: none queued."""
    queued = PasswordResetRequestRepository(session)
    pending = await queued.claim_oldest()
    if pending is None:
        return False
    await queued.remove(pending)
    user = await UserRepository(session).get_by_email(pending.email)
    if user is not None and user.password_hash is not None:
        # Counted from the mail sent, which outlives the tokens (purged once expired).
        sent = await MailRepository(session).count_to_since(
            user.email, account_mail.PASSWORD_RESET, now() - _MAIL_WINDOW
        )
        if sent < settings.password_reset_mails_per_hour:
            await account_mail.send_password_reset(session, settings, user)
    await session.flush()
    return True


async def confirm(session: AsyncSession, settings: Settings, token: str, new_password: str) -> None:
    """Spends the token and sets the password: every session of the account ends, its
    lockout is lifted, and the owner is told. Following the link proved the address, so it
    counts as verified."""
    found = await account_mail.spend(session, token, AccountTokenPurpose.password_reset)
    if found is None:
        raise AccountTokenInvalid()
    user, email = found
    if email != user.email:
        raise AccountTokenInvalid("the account's address changed since this link was sent")
    if new_password.strip().lower() == user.email:
        raise ValidationFailed(["body", "new_password"], "the password must not be the email")
    reason = weakness(new_password, user_inputs=[user.email, user.display_name])
    if reason is not None:
        raise ValidationFailed(["body", "new_password"], reason)
    if user.email_verified_at is None:
        # Whoever opened the account never proved the address; its owner just did. What the
        # opener may have set up to keep the account goes with their sessions: a second
        # factor, API keys, a new address waiting for proof.
        await totp.forget(session, user)
        await ApiKeyRepository(session).revoke_all_for_user(user.id, now())
        user.pending_email = None
        user.email_verified_at = now()
    user.password_hash = await security.hash_password(new_password)
    await service.end_all_sessions(session, user.id)
    await LoginFailureRepository(session).clear(user.email)
    account_mail.tell_password_changed(session, settings, user, "with a password-reset link")
    await session.flush()
