"""The second factor's use cases: enrol, confirm, disable, new recovery codes, and the check
at login. The caller proves the password first (`app.auth.service.require_password` in the
router; the password check of `login`): this module takes a user whose password is already
verified, so that `app.auth.service` can call it without a cycle.

A code is good once: each accepted code moves `users.totp_last_step` forward by
compare-and-set, so the same code (or an older one) sent twice, even at the same moment, is
accepted once. A recovery code is spent the same way, on its `used_at`."""

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

import pyotp
from cryptography.fernet import InvalidToken
from pyotp.utils import strings_equal
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import LoginFailure, User
from app.auth.repository import LoginFailureRepository
from app.auth.totp import crypto
from app.auth.totp.exceptions import (
    InvalidLoginTotpCode,
    InvalidTotpCode,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    TotpNotEnrolling,
    TotpRequired,
)
from app.auth.totp.repository import RecoveryCodeRepository, SecondFactorRepository
from app.config import Settings
from app.core.audit import record_audit
from app.core.clock import now

logger = logging.getLogger(__name__)

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""Lower case without the look-alikes (0/o, 1/l/i): 12 characters of it hold 59 bits."""
_RECOVERY_GROUPS, _RECOVERY_GROUP_LENGTH = 3, 4
VALID_WINDOW = 1
"""Time steps accepted either side of the current one: a code works from 30 seconds before
its own step to 30 seconds after, for clocks that drift and people who type slowly."""
_TOTP_CODE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    """Base32, for typing into an authenticator app."""
    otpauth_uri: str
    """The same as an `otpauth://` URI, for a QR code."""


def _normalised(code: str) -> str:
    """As people type codes: `123 456`, `ABCD-EFGH-IJKL`."""
    return re.sub(r"[\s-]", "", code).lower()


def _recovery_code_hash(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LENGTH))
        for _ in range(_RECOVERY_GROUPS)
    )
    return "-".join(groups)


def _matching_step(settings: Settings, stored_secret: str, normalised: str) -> int | None:
    """The time step whose code `normalised` is, within the window; None if none."""
    if not _TOTP_CODE.fullmatch(normalised):
        return None
    try:
        secret = crypto.decrypt(settings.totp_encryption_key, stored_secret)
    except InvalidToken:
        # Encrypted under another MARKETPLACE_TOTP_ENCRYPTION_KEY: no code can match, but the
        # person is not locked out for good: recovery codes (hashed, not encrypted) still work.
        logger.error("a TOTP secret cannot be decrypted: was the encryption key changed?")
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now())
    found = None
    # Every step of the window is compared, in constant time, whichever matches.
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if strings_equal(normalised, totp.generate_otp(step)):
            found = step
    return found


async def _spend_code(session: AsyncSession, settings: Settings, user: User, code: str) -> bool:
    """Accept a code of the user's enabled factor, or one of their recovery codes, once."""
    assert user.totp_secret is not None  # enabled
    normalised = _normalised(code)
    if _TOTP_CODE.fullmatch(normalised):
        step = _matching_step(settings, user.totp_secret, normalised)
        return step is not None and await SecondFactorRepository(session).accept_step(user, step)
    return await RecoveryCodeRepository(session).spend(
        user.id, _recovery_code_hash(normalised), now()
    )


async def _require_code(session: AsyncSession, settings: Settings, user: User, code: str) -> None:
    """A signed-in user's code for a change to their factor. A wrong one is counted towards
    the login lockout like a wrong password (`InvalidTotpCode` keeps it), so an access token
    and the password are not enough to try codes until one fits."""
    if not await _spend_code(session, settings, user, code):
        await LoginFailureRepository(session).add(LoginFailure(email=user.email, created_at=now()))
        raise InvalidTotpCode()


async def _replace_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    hashes = [_recovery_code_hash(_normalised(code)) for code in codes]
    await RecoveryCodeRepository(session).replace(user.id, hashes, now())
    return codes


async def enrol(session: AsyncSession, settings: Settings, user: User) -> Enrolment:
    """A new secret, stored encrypted and not yet enabled (it replaces an unconfirmed one):
    logins need codes only once `confirm` proves the app holds it."""
    if user.totp_enabled:
        raise TotpAlreadyEnabled()
    secret = pyotp.random_base32()
    user.totp_secret = crypto.encrypt(settings.totp_encryption_key, secret)
    user.totp_enabled_at = None
    user.totp_last_step = None
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=settings.totp_issuer)
    return Enrolment(secret=secret, otpauth_uri=uri)


async def confirm(session: AsyncSession, settings: Settings, user: User, code: str) -> list[str]:
    """Enable the enrolled factor with a first code from the app; returns new recovery codes
    (shown once, stored hashed). The code is spent: it cannot log in too."""
    if user.totp_enabled:
        raise TotpAlreadyEnabled()
    secret = user.totp_secret
    if secret is None:
        raise TotpNotEnrolling()
    step = _matching_step(settings, secret, _normalised(code))
    if step is None:
        raise InvalidTotpCode()
    # Against the secret read here: an enrolment that replaced it meanwhile stays unconfirmed.
    if not await SecondFactorRepository(session).confirm(user, secret=secret, step=step, at=now()):
        raise TotpNotEnrolling()
    codes = await _replace_recovery_codes(session, user)
    await record_audit(
        session, actor_id=user.id, action="user.totp_enabled", target_type="user", target_id=user.id
    )
    return codes


async def disable(session: AsyncSession, settings: Settings, user: User, code: str) -> None:
    """Remove the factor and its recovery codes, given a code or a recovery code."""
    if not user.totp_enabled:
        raise TotpNotEnabled()
    await _require_code(session, settings, user, code)
    await forget(session, user)
    await record_audit(
        session,
        actor_id=user.id,
        action="user.totp_disabled",
        target_type="user",
        target_id=user.id,
    )


async def regenerate_recovery_codes(
    session: AsyncSession, settings: Settings, user: User, code: str
) -> list[str]:
    """A new set of recovery codes, given a code or a recovery code; the old set stops
    working."""
    if not user.totp_enabled:
        raise TotpNotEnabled()
    await _require_code(session, settings, user, code)
    return await _replace_recovery_codes(session, user)


async def check_second_factor(
    session: AsyncSession, settings: Settings, user: User, code: str | None
) -> None:
    """At login, after the password: nothing for a user without a factor; otherwise a code
    of theirs (or a recovery code) not used before: 401 `totp_required` without one, 401
    `invalid_totp_code` for a wrong, expired or spent one."""
    if not user.totp_enabled:
        return
    if not code:
        raise TotpRequired()
    if not await _spend_code(session, settings, user, code):
        raise InvalidLoginTotpCode()


async def forget(session: AsyncSession, user: User) -> None:
    """No factor left: the secret and every recovery code go (disabling, account deletion)."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    await RecoveryCodeRepository(session).delete_all(user.id)
    await session.flush()
