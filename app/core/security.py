"""Password hashing (argon2id) and JWTs. The only module that imports `jose`."""

import asyncio
import hashlib
import os
import secrets
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jose import JWTError, jwt

from app.core.clock import now

JWT_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti", "type")


class _Hashing:
    """The process's argon2id parameters (settings decide; tests use cheap ones)."""

    def __init__(self) -> None:
        self.configure(PasswordHasher())

    def configure(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        # Verified against when the email is unknown, so both failures cost the same time.
        self.dummy_hash = hasher.hash(secrets.token_urlsafe(16))


_hashing = _Hashing()


def configure_password_hashing(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    hasher = _hashing.hasher
    if (hasher.time_cost, hasher.memory_cost, hasher.parallelism) != (
        time_cost,
        memory_kib,
        parallelism,
    ):
        _hashing.configure(
            PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        )


# argon2id is memory-hard on purpose: one hash takes a core for a noticeable time. Run in
# the event loop, a flood of logins would stall every other request; run in unbounded
# threads, it would take every core. So hashes run in worker threads (argon2 releases the
# GIL), at most one per core at a time: a flood queues behind itself while the event loop
# keeps serving.
HASHING_CONCURRENCY = max(1, os.cpu_count() or 1)
_hashing_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
    weakref.WeakKeyDictionary()
)


def _slots() -> asyncio.Semaphore:
    """The running loop's semaphore (the CLI and tests run more than one loop per process)."""
    loop = asyncio.get_running_loop()
    slots = _hashing_slots.get(loop)
    if slots is None:
        slots = _hashing_slots[loop] = asyncio.Semaphore(HASHING_CONCURRENCY)
    return slots


async def hash_password(password: str) -> str:
    async with _slots():
        return await asyncio.to_thread(_hashing.hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    async with _slots():
        return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        verified = _hashing.hasher.verify(password_hash or _hashing.dummy_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return verified and password_hash is not None


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the configured ones."""
    return _hashing.hasher.check_needs_rehash(password_hash)


def hash_token(token: str) -> str:
    """Digest for secrets stored at rest (refresh tokens, API keys): high-entropy, so SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenType(StrEnum):
    access = "access"
    refresh = "refresh"
    unsubscribe = "unsubscribe"
    """A mail's one-click unsubscribe link: names a person and one kind of mail."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    token_id: uuid.UUID
    token_type: TokenType
    issued_at: datetime
    expires_at: datetime
    extra: dict[str, Any]


class InvalidToken(Exception):
    """The token is malformed, tampered with, of the wrong type or expired."""


def encode_token(
    secret: str,
    *,
    subject: str,
    token_type: TokenType,
    ttl: timedelta,
    token_id: uuid.UUID,
    extra: dict[str, Any] | None = None,
) -> str:
    issued = now()
    claims: dict[str, Any] = {
        **(extra or {}),
        "sub": subject,
        "type": token_type.value,
        "jti": str(token_id),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_token(secret: str, token: str, *, expected_type: TokenType) -> TokenClaims:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],  # pinned: never trust the header's `alg`
            # Expiry is checked below against app.core.clock so that tests can move time.
            options={"verify_exp": False, "verify_iat": False, "verify_aud": False},
        )
    except JWTError as error:
        raise InvalidToken(str(error)) from error
    if any(claims.get(name) is None for name in _REQUIRED_CLAIMS):
        raise InvalidToken("missing required claims")
    if claims["type"] != expected_type.value:
        raise InvalidToken(f"expected a {expected_type.value} token")
    try:
        token_id = uuid.UUID(str(claims["jti"]))
        issued_at = datetime.fromtimestamp(int(claims["iat"]), now().tzinfo)
        expires_at = datetime.fromtimestamp(int(claims["exp"]), now().tzinfo)
    except (TypeError, ValueError) as error:
        raise InvalidToken("malformed claims") from error
    if expires_at <= now():
        raise InvalidToken("token expired")
    return TokenClaims(
        subject=str(claims["sub"]),
        token_id=token_id,
        token_type=TokenType(claims["type"]),
        issued_at=issued_at,
        expires_at=expires_at,
        extra={k: v for k, v in claims.items() if k not in _REQUIRED_CLAIMS},
    )
