"""Proving an address: the link mailed on registration and on every change of address."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import account_mail
from app.auth.exceptions import (
    AccountTokenInvalid,
    EmailAlreadyVerified,
    EmailNotVerified,
    EmailTaken,
)
from app.auth.models import AccountTokenPurpose, User
from app.auth.principal import Principal
from app.auth.repository import UserRepository
from app.config import Settings
from app.core.clock import now


async def verify(session: AsyncSession, token: str) -> User:
    """Spends a verification token: its address is now the account's, and verified. A
    token for an address the account no longer asks for (a newer change superseded it) is
    refused, and so is an address another account took meanwhile (409 `email_taken`: only
    the address's owner holds the token, so this tells nobody else anything)."""
    found = await account_mail.spend(session, token, AccountTokenPurpose.verify_email)
    if found is None:
        raise AccountTokenInvalid()
    user, email = found
    if email == user.pending_email:
        user.email, user.pending_email = email, None
        await UserRepository(session).save_unique(user, EmailTaken())
    elif email != user.email:
        raise AccountTokenInvalid("the address was changed again since this link was sent")
    user.email_verified_at = now()
    await session.flush()
    return user


async def resend(session: AsyncSession, settings: Settings, principal: Principal) -> None:
    """A fresh link (earlier ones stop working) to the address awaiting proof: the pending
    new one if there is one, else the unverified current one."""
    user = principal.user
    if user.pending_email is not None:
        await account_mail.send_verification(session, settings, user, user.pending_email)
    elif not user.email_verified:
        await account_mail.send_verification(session, settings, user, user.email)
    else:
        raise EmailAlreadyVerified()
    await session.flush()


def require_verified(settings: Settings, principal: Principal) -> None:
    """Where verification is required (`MARKETPLACE_REQUIRE_VERIFIED_EMAIL`), paying,
    applying to sell and creating API keys need a verified address."""
    if settings.verified_email_required and not principal.user.email_verified:
        raise EmailNotVerified(
            "follow the link mailed to your address (POST /v1/auth/verify-email/resend "
            "sends a new one)"
        )
