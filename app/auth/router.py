from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from app.auth import api_keys, email_verification, password_reset, service, views
from app.auth.dependencies import (
    ApiKeyGuard,
    AppSettings,
    CurrentPrincipal,
    EnrollingPrincipal,
    LoginSecondFactor,
    PasswordAttemptsDep,
    VerifiedPrincipal,
)
from app.auth.exceptions import (
    AccountTokenInvalid,
    ApiKeyNotFound,
    ApiKeysNeedSeller,
    EmailAlreadyVerified,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    TooManyApiKeys,
    TooManyLoginAttempts,
    WrongPassword,
)
from app.auth.schemas import (
    AccountUpdated,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    EmailVerification,
    PasswordLoginForm,
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetRequestBody,
    RefreshRequest,
    RegistrationAccepted,
    TokenPair,
    UserRead,
    UserRegister,
    UserUpdate,
)
from app.auth.totp.exceptions import InvalidLoginTotpCode, TotpRequired
from app.core.db import DbSession
from app.core.errors import error_responses
from app.core.idempotency import ANONYMOUS_SCOPE, IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import InvalidCursor, PageQuery
from app.core.routing import API_PREFIX
from app.core.schemas import Page, page_of

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
me_router = APIRouter(
    prefix=f"{API_PREFIX}/me", tags=["me"], responses=error_responses(InvalidToken)
)


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationAccepted,
    responses=error_responses(IdempotencyKeyReused),
)
async def register(
    body: UserRegister, session: DbSession, settings: AppSettings, idempotency: IdempotencyDep
) -> RegistrationAccepted | JSONResponse:
    """Open an account; a link to confirm the address is mailed to it. Every account can
    buy; selling needs an approved seller profile.

    The answer is 202 with the same body whether or not the address already has an account
    (its owner is mailed a note that someone tried instead), so registering tells nobody
    who has an account. Log in at once with the password; where verification is required,
    paying, applying to sell and creating API keys wait for the link
    (`POST /v1/auth/verify-email`)."""

    async def produce() -> RegistrationAccepted:
        await service.register(session, settings, body)
        return RegistrationAccepted(email=body.email.lower())

    return await idempotency.run(
        scope=ANONYMOUS_SCOPE,
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RegistrationAccepted,
        produce=produce,
    )


@router.post(
    "/verify-email",
    response_model=UserRead,
    responses=error_responses(AccountTokenInvalid, EmailTaken),
)
async def verify_email(body: EmailVerification, session: DbSession) -> UserRead:
    """Confirm an address with the token from the mail (no login needed: the link may be
    opened on another device). A new address asked for with `PATCH /v1/me` becomes the
    login now. The token works once and expires; a newer mail's token replaces it. 409
    `email_taken` if another account took the new address meanwhile."""
    return views.user_read(await email_verification.verify(session, body.token))


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationAccepted,
    responses=error_responses(InvalidToken, EmailAlreadyVerified),
)
async def resend_verification(
    principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> RegistrationAccepted:
    """Mail a fresh confirmation link (earlier ones stop working) to the address awaiting
    proof: the new one asked for, or the unverified current one. Rate-limited."""
    await email_verification.resend(session, settings, principal)
    user = principal.user
    return RegistrationAccepted(email=user.pending_email or user.email)


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
)
async def request_password_reset(
    body: PasswordResetRequestBody, session: DbSession
) -> PasswordResetAccepted:
    """Ask for a link to choose a new password. The answer is the same, in the same time,
    for every address: if an account has it, a mail with a single-use link follows (at most
    a few per hour per address, whoever asks). Rate-limited per client."""
    await password_reset.request(session, body.email)
    return PasswordResetAccepted()


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(AccountTokenInvalid),
)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: DbSession, settings: AppSettings
) -> Response:
    """Set a new password with the token from the reset mail. The token works once, for
    `MARKETPLACE_PASSWORD_RESET_TTL` (30 minutes). Every session of the account ends (log in
    again), a login lockout is lifted, and the owner is told by mail. The password rules are
    those of registration (422 `validation_error` says which failed)."""
    await password_reset.confirm(session, settings, body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/token",
    response_model=TokenPair,
    responses=error_responses(
        InvalidCredentials, TotpRequired, InvalidLoginTotpCode, TooManyLoginAttempts
    ),
)
async def token(
    form: Annotated[PasswordLoginForm, Depends()],
    second_factor: LoginSecondFactor,
    session: DbSession,
    settings: AppSettings,
    attempts: PasswordAttemptsDep,
) -> TokenPair:
    """Log in with the OAuth2 password form (`username` is the email): a new session.

    Answers the same 401 for an unknown email and a wrong password. After too many wrong
    passwords for one email (logins and password confirmations together, unknown emails
    too) it answers 429 with `Retry-After`, even to the right password, however many
    guesses arrive at once.

    An account with a second factor (`POST /v1/me/totp`) also sends the code its
    authenticator app shows, or one of its recovery codes, in `client_secret` (the field
    Swagger UI's password flow offers; sent in the form, or as HTTP Basic client
    authentication with an empty client id, Swagger's default): without one the right
    password answers 401 `totp_required`, a wrong or already used one 401
    `invalid_totp_code`, which counts towards the lockout like a wrong password. Each code
    logs in once.
    """
    return await service.login(
        session,
        settings,
        attempts,
        email=form.username,
        password=form.password,
        second_factor=second_factor,
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=error_responses(InvalidToken, RefreshTokenReused),
)
async def refresh(body: RefreshRequest, session: DbSession, settings: AppSettings) -> TokenPair:
    """Exchange a refresh token for a new pair. The old one is spent: presenting it again
    revokes the whole session (every token descended from the same login)."""
    return await service.refresh(session, settings, body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(InvalidToken),
)
async def logout(body: RefreshRequest, session: DbSession, settings: AppSettings) -> Response:
    """End the session the refresh token belongs to: its refresh tokens and, at once, its
    access tokens (401 `invalid_token` from the next request on). Other sessions (other
    devices) stay."""
    await service.logout(session, settings, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get("", response_model=UserRead)
async def get_me(principal: EnrollingPrincipal) -> UserRead:
    """The caller, with roles. Answers an admin who still has to enrol a required second
    factor too (every other route but enrolling answers them 403 `second_factor_required`)."""
    return views.user_read(principal.user)


@me_router.patch(
    "",
    response_model=AccountUpdated,
    responses=error_responses(WrongPassword, TooManyLoginAttempts),
)
async def update_me(
    body: UserUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    attempts: PasswordAttemptsDep,
) -> AccountUpdated:
    """Change display name, email or password (the last two need `current_password`).

    A new email is not the login yet: it shows as `pending_email`, a link is mailed to it,
    and it replaces `email` once followed (`POST /v1/auth/verify-email`); the current
    address is told of the request.

    A new password ends every session at once, this one included: every access token and
    refresh token of the account is refused from then on, so log in again. API keys are
    not sessions and keep working (they run the shop's software): the answer lists those
    still active in `active_api_keys`, and `DELETE /v1/me/api-keys` revokes them all."""
    change = await service.update_me(session, settings, principal, body, attempts=attempts)
    return views.account_updated(change)


@me_router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=error_responses(
        ApiKeysNeedSeller, WrongPassword, TooManyApiKeys, TooManyLoginAttempts, EmailNotVerified
    ),
)
async def create_api_key(
    body: ApiKeyCreate,
    principal: VerifiedPrincipal,
    session: DbSession,
    attempts: PasswordAttemptsDep,
) -> ApiKeyCreated:
    """Create a key for your shop's own software. It needs your current `password`: a key
    is lasting access, so an access token alone is not enough (a wrong password answers 403
    `wrong_password` and counts towards the login lockout).

    The answer holds the key itself, shown only this once (only its hash is stored). Send it
    as `Authorization: Bearer <key>`; it can call the operations its scopes name
    (`<resource>:read` for GET, `<resource>:write` for the rest; write includes read) and
    never more than you can. A call outside its scopes answers 403 `insufficient_scope`; a
    revoked or expired key answers 401. Every key expires: `expires_at` defaults to 90 days
    from now and may be at most 365 days ahead. You get a notification (`api_key.created`)
    for every new key."""
    key, plain = await api_keys.create(session, principal, body, attempts=attempts)
    return views.api_key_created(key, plain)


@me_router.get(
    "/api-keys", response_model=Page[ApiKeyRead], responses=error_responses(InvalidCursor)
)
async def list_api_keys(
    principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[ApiKeyRead]:
    """My API keys, newest first, revoked ones included (never the keys themselves)."""
    return page_of(*await api_keys.list_for(session, principal, page), views.api_key_read)


@me_router.delete("/api-keys", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_all_api_keys(principal: CurrentPrincipal, session: DbSession) -> Response:
    """Revoke every one of your API keys at once (after a leak, with a password change):
    from now on they all answer 401. They stay in the list, marked revoked."""
    await api_keys.revoke_all(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get(
    "/api-keys/{key_id}", response_model=ApiKeyRead, responses=error_responses(ApiKeyNotFound)
)
async def get_api_key(key: ApiKeyGuard) -> ApiKeyRead:
    """One of my API keys, with when it was last used."""
    return views.api_key_read(key)


@me_router.delete(
    "/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(ApiKeyNotFound),
)
async def revoke_api_key(key: ApiKeyGuard, session: DbSession) -> Response:
    """Revoke a key: from now on it answers 401. It stays in the list, marked revoked."""
    await api_keys.revoke(session, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
