"""The HTTP rows of bench_stack_floor.py: checkout and pay reduced to their statement counts
(`POST /checkout` runs 14 trivial statements in one transaction, `POST /pay` 15, as the API's
do: tests/test_statement_budgets.py), with no application logic at all, so what a pair costs
is the stack's own price for that much SQL over HTTP.

Both answer `GET /cpu` with the CPU time their process has used, so the bench can tell the
server's cost from its own.

- `uvicorn stack_floor_apps:bare`: a bare ASGI app over an asyncpg pool.
- `uvicorn stack_floor_apps:framework`: FastAPI, a validated body and response model, and a
  SQLAlchemy AsyncSession per request from a dependency that commits it (as the API's
  `DbSession` does), running one statement built once.

Both read the database from FLOOR_DATABASE_URL (a `postgresql+asyncpg://` URL).
"""

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

STATEMENTS = {"/checkout": 14, "/pay": 15}
POOL_SIZE = 32
READY_PATH = "/readyz"
CPU_PATH = "/cpu"
"""GET: the CPU seconds the server process has used so far."""

_SQL = "SELECT $1::int + 1"
_STATEMENT = select(bindparam("n", type_=Integer) + 1)


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
                dsn = _database_url().replace("postgresql+asyncpg://", "postgresql://", 1)
                self.pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def _answer(send: Any, status: int, content: dict[str, Any]) -> None:
        body = json.dumps(content).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


bare = _Bare()


# --- FastAPI + SQLAlchemy ------------------------------------------------------------------


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(_database_url(), pool_size=POOL_SIZE, max_overflow=0)
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await engine.dispose()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session, session.begin():
        yield session


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
