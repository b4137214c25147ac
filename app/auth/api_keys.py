"""Seller integration keys: created and shown once, stored as a hash, expiring, revocable,
and accepted in place of an access token within their scopes (see `app.auth.scopes`).

A key is lasting access to a shop, so an access token alone (perhaps stolen) must not be
enough to make one: creating a key takes the owner's current password, every key expires
(90 days unless asked otherwise, at most 365), and the owner is notified of each new key."""

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service
from app.auth.events import AccountEventType
from app.auth.exceptions import (
    ApiKeyNotFound,
    ApiKeysNeedSeller,
    InsufficientScope,
    InvalidToken,
    TooManyApiKeys,
)
from app.auth.lockout import PasswordAttempts
from app.auth.models import ApiKey, User
from app.auth.principal import Principal
from app.auth.repository import ApiKeyRepository, UserRepository
from app.auth.schemas import API_KEY_DEFAULT_TTL_DAYS, API_KEY_MAX_TTL_DAYS, ApiKeyCreate
from app.auth.scopes import grants
from app.core import outbox
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.pagination import PageParams, SortKey, paginate

KEY_PREFIX = "mk_"
"""Access tokens are JWTs (`eyJ…`); this tells a key apart at a glance."""
SHOWN_PREFIX_LENGTH = 11
MAX_ACTIVE_KEYS = 20
# Writing last_used_at on every call would turn each read into a write; a minute's
# precision is what a "last used" column is for.
LAST_USED_PRECISION = timedelta(minutes=1)
DEFAULT_TTL = timedelta(days=API_KEY_DEFAULT_TTL_DAYS)
MAX_TTL = timedelta(days=API_KEY_MAX_TTL_DAYS)


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create(
    session: AsyncSession, principal: Principal, data: ApiKeyCreate, *, attempts: PasswordAttempts
) -> tuple[ApiKey, str]:
    """The new key and its one-time plain text. Needs the owner's password (checked last,
    after the refusals that cost no password attempt)."""
    user = principal.user
    if "seller" not in user.roles:
        raise ApiKeysNeedSeller()
    at = now()
    expires_at = data.expires_at or at + DEFAULT_TTL
    if expires_at <= at:
        raise ValidationFailed(["body", "expires_at"], "must be in the future")
    if expires_at > at + MAX_TTL:
        raise ValidationFailed(
            ["body", "expires_at"], f"must be at most {API_KEY_MAX_TTL_DAYS} days from now"
        )
    keys = ApiKeyRepository(session)
    if await keys.count_active(user.id, at) >= MAX_ACTIVE_KEYS:
        raise TooManyApiKeys(f"at most {MAX_ACTIVE_KEYS} active keys")
    await service.require_password(session, attempts, user, data.password)
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = await keys.add(
        ApiKey(
            user_id=user.id,
            name=data.name,
            prefix=plain[:SHOWN_PREFIX_LENGTH],
            key_hash=_hash(plain),
            scopes=sorted({scope.value for scope in data.scopes}),
            expires_at=expires_at,
            created_at=at,
        )
    )
    await outbox.emit(
        session,
        AccountEventType.api_key_created,
        seller_id=None,
        data={
            "recipient_id": user.id,
            "api_key_id": key.id,
            "name": key.name,
            "prefix": key.prefix,
            "scopes": key.scopes,
            "expires_at": key.expires_at,
        },
    )
    return key, plain


async def list_for(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[ApiKey], str | None]:
    statement = ApiKeyRepository(session).of_user(principal.user_id)
    return await paginate(session, statement, keys=[SortKey(ApiKey.id, descending=True)], page=page)


async def get_own(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, *, lock: bool = False
) -> ApiKey:
    """One of the caller's keys; 404 for anyone else's, decided by the query."""
    key = await ApiKeyRepository(session).get_of_user(key_id, principal.user_id, lock=lock)
    if key is None:
        raise ApiKeyNotFound()
    return key


async def revoke_all(session: AsyncSession, principal: Principal) -> int:
    """Every key of the caller that is not revoked yet; how many."""
    return await ApiKeyRepository(session).revoke_all_for_user(principal.user_id, now())


async def revoke(session: AsyncSession, key: ApiKey) -> None:
    """Revoking twice is harmless; the key stays listed, marked revoked."""
    if key.revoked_at is None:
        key.revoked_at = now()
        await session.flush()


async def authenticate(
    session: AsyncSession, plain: str, required_scope: str | None
) -> tuple[User, frozenset[str]]:
    """The key's owner and the key's scopes, if the key is live and they cover
    `required_scope` (None: the operation is not open to keys). The owner's own roles still
    apply afterwards, narrowed to the seller's (see `app.auth.principal.Principal`), so a
    key never does more than its owner, nor anything as its owner's buyer or admin self."""
    key = await ApiKeyRepository(session).get_by_hash(_hash(plain))
    at = now()
    if key is None or key.revoked_at is not None:
        raise InvalidToken("unknown or revoked API key")
    if key.expires_at <= at:
        raise InvalidToken("expired API key")
    user = await UserRepository(session).get_active(key.user_id)
    if user is None:
        raise InvalidToken("unknown or revoked API key")
    if required_scope is None:
        raise InsufficientScope("this operation is not available to API keys")
    if not grants(key.scopes, required_scope):
        raise InsufficientScope(f"this operation needs the {required_scope} scope")
    if key.last_used_at is None or at - key.last_used_at >= LAST_USED_PRECISION:
        # In the request's transaction: on PostgreSQL concurrent calls with one key may
        # queue on this row once a minute, for as long as one request takes.
        key.last_used_at = at
        await session.flush()
    return user, frozenset(key.scopes)
