"""The HTTP rows of bench_stack_floor.py, with no application logic at all, so what a request
costs is the stack's own price for its SQL over HTTP:

- `POST /checkout` runs 14 trivial statements in one transaction, `POST /pay` 15, as the
  API's do (tests/test_statement_budgets.py);
- `GET /row/{id}` reads one row of about a listing page's size in one statement, outside a
  transaction (as the API's listing page does, on its autocommit read session).

The apps, each under `uvicorn stack_floor_apps:<name>`:

- `bare`: a bare ASGI app over an asyncpg pool;
- `framework`: FastAPI over SQLAlchemy: a validated body and response model, and an
  AsyncSession per request from a dependency (for writes one that commits, as the API's
  `DbSession` does), running statements built once;
- `framework_asyncpg` (reads only): FastAPI over the asyncpg pool, without SQLAlchemy.

Each answers `GET /cpu` with the CPU time its process has used, so the bench can tell the
server's cost from its own, and reads the database from FLOOR_DATABASE_URL (a
`postgresql+asyncpg://` URL).
"""

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Request, Response
from pydantic import BaseModel
from sqlalchemy import Integer, Uuid, bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

STATEMENTS = {"/checkout": 14, "/pay": 15}
POOL_SIZE = 32
READY_PATH = "/readyz"
CPU_PATH = "/cpu"
"""GET: the CPU seconds the server process has used so far."""

ROW_PATH = "/row/"
_SQL = "SELECT $1::int + 1"
_STATEMENT = select(bindparam("n", type_=Integer) + 1)
_ROW_SQL = "SELECT $1::uuid AS id, repeat('x', 1500) AS description, 1999 AS price_amount"
_ROW = select(
    bindparam("id", type_=Uuid).label("id"),
    func.repeat("x", 1500).label("description"),
    literal(1999).label("price_amount"),
)


def _row_json(row: Any) -> bytes:
    """A row as the answer's JSON."""
    return json.dumps({"id": str(row[0]), "description": row[1], "price_amount": row[2]}).encode()


def _asyncpg_dsn() -> str:
    return _database_url().replace("postgresql+asyncpg://", "postgresql://", 1)


def _database_url() -> str:
    return os.environ["FLOOR_DATABASE_URL"]


# --- bare ASGI + asyncpg -------------------------------------------------------------------


class _Bare:
    def __init__(self) -> None:
        self.pool: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope["path"]
        if path == READY_PATH:
            await self._answer(send, 200, {"ready": True})
            return
        if path == CPU_PATH:
            await self._answer(send, 200, {"cpu": time.process_time()})
            return
        if path.startswith(ROW_PATH) and scope["method"] == "GET":
            row_id = uuid.UUID(path.removeprefix(ROW_PATH))
            async with self.pool.acquire() as connection:
                row = await connection.fetchrow(_ROW_SQL, row_id)
            await self._send(send, 200, _row_json(row))
            return
        count = STATEMENTS.get(path)
        if count is None or scope["method"] != "POST":
            await self._answer(send, 404, {"error": "not found"})
            return
        body = b""
        while True:  # read the whole body, as a framework would
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        start = int(json.loads(body or b"{}").get("n", 0))
        async with self.pool.acquire() as connection, connection.transaction():
            total = 0
            for n in range(start, start + count):
                total += await connection.fetchval(_SQL, n)
        await self._answer(send, 200, {"total": total})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(
                    _asyncpg_dsn(), min_size=POOL_SIZE, max_size=POOL_SIZE
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @classmethod
    async def _answer(cls, send: Any, status: int, content: dict[str, Any]) -> None:
        await cls._send(send, status, json.dumps(content).encode())

    @staticmethod
    async def _send(send: Any, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


bare = _Bare()


# --- FastAPI + SQLAlchemy ------------------------------------------------------------------


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(_database_url(), pool_size=POOL_SIZE, max_overflow=0)
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    app.state.read_sessions = async_sessionmaker(autocommit, expire_on_commit=False)
    yield
    await engine.dispose()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session, session.begin():
        yield session


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.read_sessions() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(_read_session)]
Session = Annotated[AsyncSession, Depends(_session)]


class Work(BaseModel):
    n: int = 0


class Total(BaseModel):
    total: int


async def _run(session: AsyncSession, start: int, count: int) -> Total:
    total = 0
    for n in range(start, start + count):
        total += (await session.execute(_STATEMENT, {"n": n})).scalar_one()
    return Total(total=total)


framework = FastAPI(lifespan=_lifespan)


@framework.get(READY_PATH)
async def ready() -> dict[str, bool]:
    return {"ready": True}


@framework.get(CPU_PATH)
async def cpu() -> dict[str, float]:
    return {"cpu": time.process_time()}


@framework.post("/checkout")
async def checkout(work: Work, session: Session) -> Total:
    return await _run(session, work.n, STATEMENTS["/checkout"])


@framework.post("/pay")
async def pay(work: Work, session: Session) -> Total:
    return await _run(session, work.n, STATEMENTS["/pay"])


@framework.get(ROW_PATH + "{row_id}")
async def row(row_id: uuid.UUID, session: ReadSession) -> Response:
    found = (await session.execute(_ROW, {"id": row_id})).one()
    return Response(_row_json(found), media_type="application/json")


# --- FastAPI + asyncpg (no SQLAlchemy) ----------------------------------------------------


@asynccontextmanager
async def _pool_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        _asyncpg_dsn(), min_size=POOL_SIZE, max_size=POOL_SIZE
    )
    yield
    await app.state.pool.close()


framework_asyncpg = FastAPI(lifespan=_pool_lifespan)
framework_asyncpg.get(READY_PATH)(ready)
framework_asyncpg.get(CPU_PATH)(cpu)


@framework_asyncpg.get(ROW_PATH + "{row_id}")
async def row_by_asyncpg(row_id: uuid.UUID, request: Request) -> Response:
    async with request.app.state.pool.acquire() as connection:
        found = await connection.fetchrow(_ROW_SQL, row_id)
    return Response(_row_json(found), media_type="application/json")
