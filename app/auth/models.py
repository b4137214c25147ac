import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.models import Base, IdMixin, TimestampMixin, enum_column


class User(IdMixin, TimestampMixin, Base):
    """A person with an account. Everyone can buy; an approved shop and `is_admin` add roles."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    """Stored lower-cased: emails are unique case-insensitively."""
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """argon2id; null once the account is deleted."""
    display_name: Mapped[str] = mapped_column(String(100))
    is_admin: Mapped[bool] = mapped_column(default=False)
    seller_status: Mapped[str | None] = mapped_column(String(32))
    """Mirror of the user's seller profile status (null: never applied), kept in step by the
    sellers service so that roles need no cross-domain query."""
    shop_id: Mapped[uuid.UUID | None]
    """Mirror of the user's seller profile id (null: never applied), kept in step by the
    sellers service with `seller_status`, so that the caller's principal needs no
    cross-domain query."""
    deleted_at: Mapped[datetime | None]
    email_verified_at: Mapped[datetime | None]
    """When the person proved they receive mail at `email` (a link from a verification or
    password-reset mail); null: not yet. Accounts from before verification existed count as
    verified from the migration that added it."""
    pending_email: Mapped[str | None] = mapped_column(String(320))
    """An address the person asked to change to, lower-cased: it becomes `email` (the login)
    only when a link mailed to it is followed."""
    email_opt_outs: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Notification kinds (event types) this person does not want by email; security mail
    is sent whatever it holds."""
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    """The TOTP shared secret, encrypted (Fernet, `MARKETPLACE_TOTP_ENCRYPTION_KEY`): set at
    enrolment, null when no second factor is enrolled."""
    totp_enabled_at: Mapped[datetime | None]
    """When enrolment was confirmed with a first code; null while only enrolling."""
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    """The 30-second time step of the last code accepted: a code is good once, so one seen
    over a shoulder or replayed within its window is refused."""

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def roles(self) -> list[str]:
        roles = ["buyer"]
        if self.seller_status == "approved":
            roles.append("seller")
        if self.is_admin:
            roles.append("admin")
        return roles


class AuthSession(Base):
    """One login, from the password to logout: the refresh-token family and every access
    token issued in it (their `sid` claim). Every authenticated request joins its row, so
    revoking it ends those access tokens at once instead of when they expire."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    """The refresh-token family id (`fam` in refresh tokens, `sid` in access tokens)."""
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None]
    """Set by logout, refresh-token reuse, a password change, an admin role change or the
    account's deletion."""


class RefreshToken(Base):
    """One issued refresh token. Rotation spends it; a family is one login's chain of tokens
    (one `AuthSession`)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    """The token's `jti` claim."""
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    spent_at: Mapped[datetime | None]
    """Set when exchanged for a new pair; presenting it again is reuse."""
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """A password check for an email (a login, or a signed-in user's confirmation), counted
    for the lockout window. Recorded and committed *before* the password is checked, so that
    concurrent guesses see each other; a right password removes it again, so what stays are
    the failures."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_created_at", "email", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=now)


class ApiKey(IdMixin, Base):
    """A seller's integration key: acts as its owner, limited to its scopes."""

    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    """The key's first characters, to recognise it in a list; the rest is never stored."""
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the whole key (hex). Keys are long random strings, so a fast hash is
    enough; a slow one would cost every API call."""
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    """Every key expires (a default when none is asked for, and a cap), so a leaked one
    does not stay a way in for good."""
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AccountTokenPurpose(StrEnum):
    verify_email = "verify_email"
    password_reset = "password_reset"


class AccountToken(IdMixin, Base):
    """A secret mailed to a person to prove they read mail at an address: single use,
    expiring, and stored only as a hash, so a copy of the database opens no account."""

    __tablename__ = "account_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        enum_column(AccountTokenPurpose, "account_token_purpose")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the token (hex): tokens are long random strings, so a fast hash is enough."""
    email: Mapped[str] = mapped_column(String(320))
    """The address the token was mailed to: the one it proves."""
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    """Set by the one request that spends it (compare-and-set); a spent token is refused."""


class PasswordResetRequest(Base):
    """A reset asked for by email, for the worker: the request only writes this row, the same
    for a known and an unknown address, so neither its answer nor its time tells which it
    was. The worker looks the address up, mails a token (or nothing) and deletes the row."""

    __tablename__ = "password_reset_requests"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(default=now)


class RecoveryCode(IdMixin, Base):
    """One of the codes that stand in for a TOTP code when the device is lost: each works
    once; stored as a hash."""

    __tablename__ = "totp_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the code, normalised (lower case, no dashes)."""
    created_at: Mapped[datetime] = mapped_column(default=now)
    used_at: Mapped[datetime | None]
