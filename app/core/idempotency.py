"""Idempotency-Key: a retried POST returns the first response and has no second effect.

The key's row is inserted *first*, in the same transaction as the effect, and the response is
written into it before that transaction commits. A concurrent duplicate therefore collides on
the unique `(scope, key)` constraint: on PostgreSQL its INSERT waits for the first transaction
and then fails, and we replay the committed response; if the first rolled back, the duplicate
proceeds as the first. On SQLite writers are serialised by `BEGIN IMMEDIATE` to the same end.
"""

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import String, Text, UniqueConstraint, and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now
from app.core.db import DbSession
from app.core.errors import AppError, Conflict
from app.core.models import Base, IdMixin

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"

ResponseT = TypeVar("ResponseT", bound=BaseModel)


class IdempotencyKeyReused(AppError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency key reused"


class IdempotencyKeyRequired(AppError):
    status, code, title = 400, "idempotency_key_required", "Idempotency-Key header required"


class IdempotencyKeyInProgress(Conflict):
    code, title = "idempotency_key_in_progress", "A request with this key is still in progress"


ANONYMOUS_SCOPE = "anonymous"
"""The scope of requests that identify nobody (registration)."""


class IdempotencyRecord(IdMixin, Base):
    """A stored POST response, replayed for retries with the same key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(64))
    """Who the key belongs to: a user id, or `anonymous`."""
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of method, path and body: the same key with another request is refused."""
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column(index=True)


async def purge_expired_records(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every stored response of, or about, one user (their account is being deleted: responses
    such as a checkout's hold their address, the registration's their email)."""
    await session.execute(
        delete(IdempotencyRecord).where(
            or_(
                IdempotencyRecord.scope == str(user_id),
                and_(
                    IdempotencyRecord.scope == ANONYMOUS_SCOPE,
                    IdempotencyRecord.response_body.contains(str(user_id)),
                ),
            )
        )
    )


REQUIRED_MARKER = "x-idempotency-key-required"
IDEMPOTENCY_KEY_REQUIRED: dict[str, Any] = {REQUIRED_MARKER: True}
"""`openapi_extra` of a route that refuses to run without a key (400
`idempotency_key_required`, not a validation error): the one declaration both the check
and the OpenAPI document (where the header becomes required) read."""


class Idempotency:
    """Request-scoped helper: `await idempotency.run(scope, status_code, produce)`."""

    def __init__(
        self, session: AsyncSession, request: Request, key: str | None, *, required: bool
    ) -> None:
        self.session = session
        self.request = request
        self.key = key
        self.required = required

    async def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        digest.update(f"{self.request.method} {self.request.url.path}\n".encode())
        digest.update(await self.request.body())
        return digest.hexdigest()

    async def _stored(self, scope: str) -> IdempotencyRecord | None:
        statement = select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == self.key,
            IdempotencyRecord.expires_at > now(),
        )
        return (await self.session.scalars(statement)).first()

    def _replay(self, record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
        if record.status_code is None or record.response_body is None:
            raise IdempotencyKeyInProgress()
        return JSONResponse(
            json.loads(record.response_body),
            status_code=record.status_code,
            headers={REPLAY_HEADER: "true"},
        )

    async def run(
        self,
        *,
        scope: str,
        status_code: int,
        response_model: type[ResponseT],
        produce: Callable[[], Awaitable[Any]],
    ) -> ResponseT | JSONResponse:
        """Run `produce` once per key; its result, validated as `response_model`, is stored
        and returned, and a retry gets the stored response back."""
        if self.key is None:
            if self.required:
                raise IdempotencyKeyRequired()
            return response_model.model_validate(await produce())
        fingerprint = await self._fingerprint()
        stored = await self._stored(scope)
        if stored is not None:
            return self._replay(stored, fingerprint)
        # An expired row with the same key would block the insert; it is dead, so drop it.
        # Only an expired one: a live row may have been committed since we looked, and the
        # insert below must then collide with it.
        await self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == self.key,
                IdempotencyRecord.expires_at <= now(),
            )
        )
        record = IdempotencyRecord(
            scope=scope,
            key=self.key,
            fingerprint=fingerprint,
            expires_at=now() + self.request.app.state.settings.idempotency_key_ttl,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(record)
        except IntegrityError:
            # A concurrent duplicate committed first: answer what it answered.
            stored = await self._stored(scope)
            if stored is None:
                raise IdempotencyKeyInProgress() from None
            return self._replay(stored, fingerprint)
        result = response_model.model_validate(await produce())
        record.status_code = status_code
        record.response_body = result.model_dump_json()
        await self.session.flush()
        return result


async def _idempotency(
    session: DbSession,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=255,
            description="Makes a retried POST safe: the same key returns the first response",
        ),
    ] = None,
) -> Idempotency:
    route_extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    required = bool(route_extra.get(REQUIRED_MARKER))
    return Idempotency(session, request, idempotency_key, required=required)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
