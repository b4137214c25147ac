from fastapi import APIRouter, Response, status

from app.auth import service as auth_service
from app.auth.dependencies import (
    AppSettings,
    CurrentPrincipal,
    EnrollingPrincipal,
    PasswordAttemptsDep,
)
from app.auth.exceptions import InvalidToken, TooManyLoginAttempts, WrongPassword
from app.auth.totp import service
from app.auth.totp.exceptions import (
    InvalidTotpCode,
    SecondFactorRequired,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    TotpNotEnrolling,
)
from app.auth.totp.schemas import (
    RecoveryCodes,
    TotpConfirm,
    TotpEnrol,
    TotpEnrolment,
    TotpProof,
)
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.routing import API_PREFIX

router = APIRouter(
    prefix=f"{API_PREFIX}/me/totp", tags=["me"], responses=error_responses(InvalidToken)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TotpEnrolment,
    responses=error_responses(WrongPassword, TooManyLoginAttempts, TotpAlreadyEnabled),
)
async def enrol_totp(
    body: TotpEnrol,
    principal: EnrollingPrincipal,
    session: DbSession,
    settings: AppSettings,
    attempts: PasswordAttemptsDep,
) -> TotpEnrolment:
    """Start enrolling a second factor (TOTP): confirm with your current `password`.

    The answer holds the secret, shown only this once: add it to an authenticator app (type
    `secret`, or scan `otpauth_uri` as a QR code), then confirm with a code from the app at
    `POST /v1/me/totp/confirm`; until then logins need no code. Enrolling again before
    confirming replaces the secret; once confirmed, 409 `totp_already_enabled` (disable it
    first). An admin who must have a second factor can call this, `confirm` and
    `GET /v1/me`, and nothing else, until it is confirmed."""
    await auth_service.require_password(session, attempts, principal.user, body.password)
    enrolment = await service.enrol(session, settings, principal.user)
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post(
    "/confirm",
    response_model=RecoveryCodes,
    responses=error_responses(InvalidTotpCode, TotpAlreadyEnabled, TotpNotEnrolling),
)
async def confirm_totp(
    body: TotpConfirm, principal: EnrollingPrincipal, session: DbSession, settings: AppSettings
) -> RecoveryCodes:
    """Enable the enrolled second factor with a current `code` from the app (403
    `invalid_totp_code` if it is not one). From now on logging in needs a code too.

    The answer holds ten recovery codes, shown only this once: each stands in for a code
    once if the device is lost."""
    codes = await service.confirm(session, settings, principal.user, body.code)
    return RecoveryCodes(recovery_codes=codes)


# What a change made with the password and a code may answer.
_PROOF_ERRORS = error_responses(
    WrongPassword, InvalidTotpCode, SecondFactorRequired, TotpNotEnabled, TooManyLoginAttempts
)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_PROOF_ERRORS,
)
async def disable_totp(
    body: TotpProof,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    attempts: PasswordAttemptsDep,
) -> Response:
    """Disable the second factor: confirm with your current `password` and a `code` (or a
    recovery code). Its secret and recovery codes are deleted; logging in needs only the
    password again. Wrong codes, like wrong passwords, count towards the login lockout."""
    await auth_service.require_password(session, attempts, principal.user, body.password)
    await service.disable(session, settings, principal.user, body.code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/recovery-codes",
    response_model=RecoveryCodes,
    responses=_PROOF_ERRORS,
)
async def regenerate_totp_recovery_codes(
    body: TotpProof,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    attempts: PasswordAttemptsDep,
) -> RecoveryCodes:
    """A new set of ten recovery codes, shown only this once; the old ones, used or not,
    stop working. Confirm with your current `password` and a `code` (or a recovery code).
    Wrong codes, like wrong passwords, count towards the login lockout."""
    await auth_service.require_password(session, attempts, principal.user, body.password)
    codes = await service.regenerate_recovery_codes(session, settings, principal.user, body.code)
    return RecoveryCodes(recovery_codes=codes)
