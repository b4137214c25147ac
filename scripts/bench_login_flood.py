"""A search's latency alone and during a flood of logins, through the real server.

    python scripts/bench_login_flood.py [--logins 100] [--searches 200] [--source PATH]

Starts `marketplace serve` (one process, as by default) on a fresh SQLite database with the
demo data and the production password-hashing cost (argon2id, 64 MiB, t=3), then:

  (a) alone         `--searches` searches one after another (the floor);
  (b) during flood  the same searches while `--logins` logins with random, unknown emails run
                    all at once, again and again, until the searches are done;
  (c) a legitimate login (the demo buyer), alone and during the flood.

Unknown emails still cost a full hash (the server verifies against a dummy hash so that
"unknown email" and "wrong password" take the same time), which is what makes the flood
expensive. Rate limits, when the server has them, are switched off for the run
(`MARKETPLACE_RATE_LIMITS_ENABLED=false`): this measures what the hashing does to everyone
else once a flood gets through, not whether it gets through.

`--source PATH` runs another checkout of the project (e.g. a `git worktree` of an older
commit) with this machine's `.venv`, for a before/after table. Latencies are client-side wall
times; the client shares the machine's two cores with the server.
"""

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_BUYER = ("buyer@example.com", "demo-buyer-password")
SEARCH = "/v1/listings?q=phone&sort=relevance"
STARTUP_SECONDS = 120


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def timed(call: Callable[[], Awaitable[httpx.Response]], expected: int) -> float:
    started = time.perf_counter()
    response = await call()
    elapsed = time.perf_counter() - started
    if response.status_code != expected:
        raise SystemExit(f"unexpected {response.status_code}: {response.text[:300]}")
    return elapsed


async def flood(client: httpx.AsyncClient, logins: int, stop: asyncio.Event) -> int:
    """`logins` concurrent logins with unknown emails, in waves, until `stop`."""
    sent = 0

    async def one() -> None:
        email = f"nobody-{secrets.token_hex(6)}@example.com"
        await client.post("/v1/auth/token", data={"username": email, "password": "wrong-pass"})

    while not stop.is_set():
        await asyncio.gather(*(one() for _ in range(logins)))
        sent += logins
    return sent


async def measure(base_url: str, logins: int, searches: int) -> list[tuple[str, list[float]]]:
    limits = httpx.Limits(max_connections=logins + 10)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as client:

        def search() -> Awaitable[httpx.Response]:
            return client.get(SEARCH)

        def login() -> Awaitable[httpx.Response]:
            email, password = DEMO_BUYER
            return client.post("/v1/auth/token", data={"username": email, "password": password})

        await timed(search, 200)  # warm-up: connections, caches, the first plan
        alone = [await timed(search, 200) for _ in range(searches)]
        login_alone = [await timed(login, 200) for _ in range(5)]

        stop = asyncio.Event()
        flooding = asyncio.create_task(flood(client, logins, stop))
        await asyncio.sleep(1)  # let the first wave arrive
        during = [await timed(search, 200) for _ in range(searches)]
        login_during = [await timed(login, 200) for _ in range(5)]
        stop.set()
        sent = await flooding
        print(f"flood: {sent} logins sent while measuring", file=sys.stderr)
    return [
        ("search alone", alone),
        ("search during flood", during),
        ("legitimate login alone", login_alone),
        ("legitimate login during flood", login_during),
    ]


def serve(source: Path, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(
        MARKETPLACE_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        MARKETPLACE_MEDIA_DIR=str(workdir / "media"),
        MARKETPLACE_ENVIRONMENT="development",
        MARKETPLACE_RUN_WORKER_IN_PROCESS="false",
        MARKETPLACE_LOG_LEVEL="WARNING",
        MARKETPLACE_RATE_LIMITS_ENABLED="false",
        PYTHONPATH=str(source),
    )
    command = [sys.executable, "-m", "app.cli"]
    for step in ("migrate", "seed-demo"):
        subprocess.run([*command, step], cwd=source, env=env, check=True, capture_output=True)
    return subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=source,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=100, help="concurrent logins per wave")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--source", type=Path, default=PROJECT_ROOT, help="project checkout")
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    base_url = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="bench-login-flood-") as workdir:
        server = serve(args.source.resolve(), Path(workdir), args.port)
        try:
            asyncio.run(wait_ready(base_url))
            rows = asyncio.run(measure(base_url, args.logins, args.searches))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\nsource: {args.source.resolve()}   flood: {args.logins} concurrent logins per wave")
    print(f"{'what':32} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, samples in rows:
        ms = [s * 1000 for s in samples]
        print(
            f"{name:32} {len(ms):>5} {percentile(ms, 0.5):>9.1f} {percentile(ms, 0.95):>9.1f}"
            f" {percentile(ms, 0.99):>9.1f} {statistics.fmean(ms):>9.1f}"
        )


if __name__ == "__main__":
    main()
