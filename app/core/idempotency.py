"""Idempotency-Key: a retried POST returns the first response and has no second effect.

The key's row is inserted *first*, in the same transaction as the effect, and the response is
written into it before that transaction commits. A concurrent duplicate therefore collides on
the unique `(scope, key)` constraint: on PostgreSQL its INSERT waits for the first transaction
and then fails, and we replay the committed response; if the first rolled back, the duplicate
proceeds as the first. On SQLite writers are serialised by `BEGIN IMMEDIATE` to the same end.

Any POST may send a key (API.md). Routes whose key is required, or whose answer needs more
than storing (register, checkout, pay, payouts, refunds), call `Idempotency.run` themselves;
`accept_idempotency_keys` gives every other POST of a router the same behaviour by wrapping
its endpoint, so that a new route is covered without doing anything.
"""

import hashlib
import inspect
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import String, Text, UniqueConstraint, and_, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.datastructures import UploadFile

from app.core.clock import now
from app.core.db import DbSession
from app.core.errors import AppError, Conflict
from app.core.ids import uuid7
from app.core.models import Base, IdMixin
from app.core.repository import prebuilt_insert
from app.core.routing import dependants, rebuilt, with_error_responses

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"

ResponseT = TypeVar("ResponseT", bound=BaseModel)
T = TypeVar("T")
_KEYWORD = inspect.Parameter.KEYWORD_ONLY


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


def _take_over_an_expired_record(insert: Any) -> Any:
    """On meeting a record with the same key that has expired, the insert takes it over (its
    values become those proposed: `excluded`); on meeting a live one it does nothing."""
    proposed = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[IdempotencyRecord.scope, IdempotencyRecord.key],
        set_={
            "fingerprint": proposed.fingerprint,
            "status_code": None,
            "response_body": None,
            "created_at": proposed.created_at,
            "expires_at": proposed.expires_at,
        },
        where=IdempotencyRecord.expires_at <= proposed.created_at,
    ).returning(IdempotencyRecord.id)


# Built once: every keyed POST runs both, and building them cost about as much as running
# them.
_CLAIM = prebuilt_insert(
    IdempotencyRecord,
    ("id", "scope", "key", "fingerprint", "created_at", "expires_at"),
    _take_over_an_expired_record,
)
_STORE = (
    update(IdempotencyRecord)
    .where(IdempotencyRecord.id == bindparam("record_id"))
    .values(status_code=bindparam("stored_status"), response_body=bindparam("stored_body"))
    # The record was written by `_claim`'s INSERT, never loaded: nothing in the session to
    # bring up to date.
    .execution_options(synchronize_session=False)
)


REQUIRED_MARKER = "x-idempotency-key-required"
IDEMPOTENCY_KEY_REQUIRED: dict[str, Any] = {REQUIRED_MARKER: True}
"""`openapi_extra` of a route that refuses to run without a key (400
`idempotency_key_required`, not a validation error): the one declaration both the check
and the OpenAPI document (where the header becomes required) read."""

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def _fingerprint(request: Request) -> str:
    """SHA-256 of method, path and body. A form is read field by field: a multipart body
    differs between two sendings of the same upload (its boundary is random), so hashing the
    raw bytes would call every retried upload a different request."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    if not request.headers.get("content-type", "").startswith(_FORM_TYPES):
        digest.update(await request.body())
        return digest.hexdigest()
    form = await request.form()  # already parsed for the endpoint: this is the cached one
    for name, value in sorted(form.multi_items(), key=lambda item: item[0]):
        digest.update(hashlib.sha256(name.encode()).digest())
        if isinstance(value, UploadFile):
            content = await value.read()
            await value.seek(0)  # the endpoint reads it after us
            meta = f"{value.filename}\0{value.content_type}"
            digest.update(hashlib.sha256(meta.encode()).digest())
            digest.update(hashlib.sha256(content).digest())
        else:
            digest.update(hashlib.sha256(value.encode()).digest())
    return digest.hexdigest()


class _StoredJSONResponse(JSONResponse):
    """A stored JSON body, sent byte for byte as first sent (not parsed and dumped again)."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


class Idempotency:
    """Request-scoped helper: `await idempotency.run(scope, status_code, produce)`."""

    def __init__(
        self,
        session: AsyncSession,
        request: Request,
        response: Response,
        key: str | None,
        *,
        required: bool,
    ) -> None:
        self.session = session
        self.request = request
        self.response = response
        """FastAPI's sub-response: what the endpoint set on it (a status) is kept."""
        self.key = key
        self.required = required

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
        # Its status and body (headers are not kept).
        return _StoredJSONResponse(
            record.response_body.encode(),
            status_code=record.status_code,
            headers={REPLAY_HEADER: "true"},
        )

    async def _claim(self, scope: str) -> uuid.UUID | JSONResponse:
        """The id of this request's record (written, without a response yet) if it is the
        first with the key; otherwise the answer for a retry: the stored response, or an
        error.

        One statement claims the key: an insert that, on meeting an *expired* row with the
        same key, takes it over (that row is dead), and on meeting a live one does nothing.
        A live row may belong to a concurrent duplicate: on PostgreSQL the insert waits for
        that transaction and then sees its committed row (or, if it rolled back, inserts)."""
        fingerprint = await _fingerprint(self.request)
        at = now()
        claimed: uuid.UUID | None = await _CLAIM.scalar(
            self.session,
            id=uuid7(),
            scope=scope,
            key=self.key,
            fingerprint=fingerprint,
            created_at=at,
            expires_at=at + self.request.app.state.settings.idempotency_key_ttl,
        )
        if claimed is not None:
            return claimed
        stored = await self._stored(scope)
        if stored is None:  # it expired between the two statements: a retry claims it
            raise IdempotencyKeyInProgress()
        return self._replay(stored, fingerprint)

    async def _effect(self, record_id: uuid.UUID, produce: Callable[[], Awaitable[T]]) -> T:
        try:
            return await produce()
        except AppError as error:
            # A refusal that keeps its changes (a counted attempt) would commit the pending
            # record too, and every retry would then be "in progress" until it expires.
            if error.keeps_changes:
                await self.session.execute(
                    delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id)
                )
            raise

    async def _store(self, record_id: uuid.UUID, status_code: int, body: str) -> None:
        await self.session.execute(
            _STORE,
            {"record_id": record_id, "stored_status": status_code, "stored_body": body},
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
        claimed = await self._claim(scope)
        if isinstance(claimed, JSONResponse):
            return claimed
        result = response_model.model_validate(await self._effect(claimed, produce))
        await self._store(claimed, status_code, result.model_dump_json())
        return result

    async def respond(self, *, scope: str, produce: Callable[[], Awaitable[Response]]) -> Response:
        """Run `produce` once per key; a retry gets the same status and body back (the
        headers are not kept). The answer must be JSON, or empty."""
        claimed = await self._claim(scope)
        if isinstance(claimed, JSONResponse):
            return claimed
        answer = await self._effect(claimed, produce)
        await self._store(claimed, answer.status_code, bytes(answer.body).decode())
        return answer


async def _idempotency(
    session: DbSession,
    request: Request,
    response: Response,
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
    return Idempotency(session, request, response, idempotency_key, required=required)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


# --- every other POST ------------------------------------------------------------------------

_KEY_ERRORS = (IdempotencyKeyReused, IdempotencyKeyInProgress)
_IDEMPOTENCY_PARAMETER = "_idempotency_"
_OWNER_PARAMETER = "_idempotency_key_owner_"


class KeyOwner(Protocol):
    """Whom a key belongs to: keys of different callers never meet."""

    @property
    def id(self) -> uuid.UUID: ...


def _answerer(route: APIRoute) -> Callable[[Any, Response], Response]:
    """The answer FastAPI would send for an endpoint's return value, built here so that its
    body can be stored: the value serialised as the route's response model says, with the
    status and headers the endpoint set on FastAPI's sub-response."""
    adapter: TypeAdapter[Any] = TypeAdapter(
        Any if route.response_model is None else route.response_model
    )
    options: dict[str, Any] = {
        "include": route.response_model_include,
        "exclude": route.response_model_exclude,
        "by_alias": route.response_model_by_alias,
        "exclude_unset": route.response_model_exclude_unset,
        "exclude_defaults": route.response_model_exclude_defaults,
        "exclude_none": route.response_model_exclude_none,
    }

    def answer(result: Any, sub_response: Response) -> Response:
        if isinstance(result, Response):
            return result
        body = b""
        if result is not None:
            body = adapter.dump_json(
                adapter.validate_python(result, from_attributes=True), **options
            )
        headers = {k: v for k, v in sub_response.headers.items() if k != "content-length"}
        return Response(
            body,
            status_code=sub_response.status_code or route.status_code or 200,
            headers=headers,
            media_type="application/json" if body else None,
        )

    return answer


def _idempotent(
    route: APIRoute, owner: Callable[..., Awaitable[KeyOwner | None]] | None
) -> Callable[..., Awaitable[Any]]:
    """`route.endpoint` with an optional Idempotency-Key: the same parameters plus the key
    (and the dependency naming the caller, which the route resolves anyway, so it costs
    nothing), run through `Idempotency.respond` when a key is sent."""
    endpoint = route.endpoint
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{route.path}: only async endpoints can take an Idempotency-Key")
    signature = inspect.signature(endpoint, eval_str=True)
    parameters = list(signature.parameters.values())
    if {_IDEMPOTENCY_PARAMETER, _OWNER_PARAMETER} & signature.parameters.keys() or any(
        p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters
    ):
        raise TypeError(f"{route.path}: cannot add the Idempotency-Key to this endpoint")
    added = [inspect.Parameter(_IDEMPOTENCY_PARAMETER, _KEYWORD, annotation=IdempotencyDep)]
    if owner is not None:
        added.append(
            inspect.Parameter(_OWNER_PARAMETER, _KEYWORD, annotation=Annotated[Any, Depends(owner)])
        )
    answer = _answerer(route)

    async def with_idempotency_key(**arguments: Any) -> Any:
        idempotency: Idempotency = arguments.pop(_IDEMPOTENCY_PARAMETER)
        caller: KeyOwner | None = arguments.pop(_OWNER_PARAMETER, None)
        if idempotency.key is None:
            return await endpoint(**arguments)

        async def produce() -> Response:
            return answer(await endpoint(**arguments), idempotency.response)

        scope = ANONYMOUS_SCOPE if caller is None else str(caller.id)
        return await idempotency.respond(scope=scope, produce=produce)

    with_idempotency_key.__name__ = endpoint.__name__
    with_idempotency_key.__qualname__ = endpoint.__qualname__
    with_idempotency_key.__doc__ = endpoint.__doc__
    with_idempotency_key.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            p.replace(kind=_KEYWORD) if p.kind is p.POSITIONAL_ONLY else p for p in parameters
        ]
        + added
    )
    return with_idempotency_key


def accept_idempotency_keys(
    router: APIRouter,
    *,
    key_owners: Sequence[Callable[..., Awaitable[KeyOwner | None]]],
    never_stored: Collection[Callable[..., Any]],
) -> None:
    """Every POST of `router` honours an optional Idempotency-Key, except those that handle
    it themselves (they depend on `IdempotencyDep`) and `never_stored` endpoints (their answer
    holds a credential that is otherwise kept only hashed: storing it for replays would keep
    it in clear). A key belongs to the caller named by the first of `key_owners` the route
    depends on (the signed-in user), or to nobody in particular (`anonymous`)."""
    for index, route in enumerate(router.routes):
        if not isinstance(route, APIRoute) or "POST" not in (route.methods or ()):
            continue
        calls = {dependant.call for dependant in dependants(route.dependant)}
        if _idempotency in calls or route.endpoint in never_stored:
            continue
        owner = next((dependency for dependency in key_owners if dependency in calls), None)
        router.routes[index] = rebuilt(
            route,
            endpoint=_idempotent(route, owner),
            responses=with_error_responses(route.responses, *_KEY_ERRORS),
        )
