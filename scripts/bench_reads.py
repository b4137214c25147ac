#!/usr/bin/env python3
"""The per-request floor (issue 16): the API's public reads beside a bare ASGI app doing the
same SQL and answering the same JSON, loaded with wrk.

    python scripts/bench_reads.py --listings 200000
    python scripts/bench_reads.py --keep --api-root /path/to/other/checkout   # another commit

It (re)creates a PostgreSQL database on loopback (the catalog of bench_support.py: sellers,
a category tree, N listings with 1-4 images each; --keep reuses one already loaded), then
starts two servers, one uvicorn worker each:

  API       `marketplace serve` with production settings (a real secret, JSON logs at
            WARNING, no in-process worker) except the per-client rate limits, which are
            off: every request here comes from one client on purpose, which in production
            is the one client the limits exist to stop.
  baseline  scripts/raw_reads_app.py: uvicorn + asyncpg, no framework, no ORM.

The baseline sends the API's own statements: the app is run in this process, and the
statements it sends (text and parameters) for one sample of `GET /v1/listings/{id}` and of
`GET /v1/listings?q=<word>` (a first page: the page and its capped count) are captured and
handed to the baseline, which puts each request's id or word in place of the sample's.
Before measuring, the two answer a sample of requests and must agree: the same status, the
same JSON (and, for a listing, the same ETag). Then wrk drives each side for --duration
seconds per row, at 1 and at 16 connections, over a fixed sequence of readable listings and
one-word searches, the same for both sides.

The statements are captured from this checkout's app; with --api-root the API runs from
another checkout (an older commit, say), and the baseline still sends this one's SQL.

Aim (issue 16): API req/s >= 0.5x the baseline's, at 1 connection and at 16.
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from bench_support import (
    CATALOG,
    ROOT,
    api_server,
    app_session_settings,
    asyncpg_dsn,
    code_version,
    free_port,
    prepare_database,
    server,
)
from raw_reads_app import Parameter, Statement
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.catalog.schemas import SEARCH_COUNT_CAP, SearchSort
from app.config import Environment, Settings
from app.main import create_app

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/marketplace_bench_reads"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
PAGE_SIZE = 20  # the API's default page
SAMPLE_LISTINGS = 2_000
SEARCH_WORDS = 40
AGREEMENT_SAMPLE = 25
WARM_UP_SECONDS = 2
AIM = 0.5

WRK_SCRIPT = """
local paths = {}
local next_path = 0

init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end

request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class Endpoint:
    key: str
    name: str
    paths: list[str]


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


# --- the sample ---------------------------------------------------------------------------


async def pick_listings(url: str) -> list[str]:
    """Listings anyone may read (they have been public), in a fixed random order."""
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        await connection.execute("SELECT setseed(0.16)")
        rows = await connection.fetch(
            "SELECT id FROM listings"
            " WHERE status NOT IN ('draft', 'pending_review', 'rejected')"
            " ORDER BY random() LIMIT $1",
            SAMPLE_LISTINGS,
        )
    finally:
        await connection.close()
    return [str(row["id"]) for row in rows]


def search_words() -> list[str]:
    """One-word searches over the generator's vocabulary (brands, things, materials)."""
    words = sorted(
        {
            word
            for _root, _leaves, items in CATALOG
            for item in items
            for word in re.findall(r"[a-z]+", item.lower())
            if len(word) >= 4
        }
    )
    return words[:: max(1, len(words) // SEARCH_WORDS)][:SEARCH_WORDS]


# --- what the API sends ---------------------------------------------------------------------


def api_settings(url: str, port: int, media_dir: Path) -> tuple[Settings, dict[str, str]]:
    """Production settings (but for the rate limits, see the module's docstring), as the
    in-process app's Settings and as the API server's environment."""
    environment = {
        "MARKETPLACE_ENVIRONMENT": Environment.production.value,
        "MARKETPLACE_DATABASE_URL": url,
        "MARKETPLACE_JWT_SECRET": secrets.token_urlsafe(48),
        "MARKETPLACE_TOTP_ENCRYPTION_KEY": secrets.token_urlsafe(48),
        # No mail leaves a benchmark; production refuses the console backend.
        "MARKETPLACE_EMAIL_BACKEND": "none",
        "MARKETPLACE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MARKETPLACE_MEDIA_DIR": str(media_dir),
        "MARKETPLACE_LOG_LEVEL": "WARNING",
        "MARKETPLACE_LOG_JSON": "true",
        "MARKETPLACE_RUN_WORKER_IN_PROCESS": "false",
        "MARKETPLACE_RATE_LIMITS_ENABLED": "false",
    }
    settings = Settings.model_validate(
        {name.removeprefix("MARKETPLACE_").lower(): value for name, value in environment.items()}
    )
    return settings, environment


def template(value: Any, sample: str, source: str) -> Parameter:
    """A captured parameter as the baseline fills it in for a request."""
    if isinstance(value, uuid.UUID) and str(value) == sample:
        return Parameter(source=source, as_uuid=True)
    if isinstance(value, str) and sample in value:
        return Parameter(source=source, template=value.replace(sample, "\0"))
    json.dumps(value)  # a constant must survive the trip to the baseline as it is
    return Parameter(value=value)


async def capture(settings: Settings, listing_id: str, word: str) -> dict[str, list[Statement]]:
    """The statements the app sends for an anonymous read of a listing and for a search
    (each the second of two identical requests: the first fills the caches a running API
    has warm, such as the category tree)."""
    app = create_app(settings)
    engine = app.state.database.engine
    seen: list[tuple[str, tuple[Any, ...]]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        seen.append((statement, tuple(parameters or ())))

    captured: dict[str, list[Statement]] = {}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, path, params, sample in (
                ("listing", f"/v1/listings/{listing_id}", {}, listing_id),
                ("search", "/v1/listings", {"q": word}, word),
            ):
                (await client.get(path, params=params)).raise_for_status()
                event.listen(engine.sync_engine, "before_cursor_execute", record)
                try:
                    (await client.get(path, params=params)).raise_for_status()
                finally:
                    event.remove(engine.sync_engine, "before_cursor_execute", record)
                captured[name] = [
                    Statement(sql, tuple(template(v, sample, name) for v in parameters))
                    for sql, parameters in seen
                ]
                seen.clear()
    finally:
        await app.state.database.dispose()
    _require_known_shapes(captured)
    return captured


def _require_known_shapes(captured: dict[str, list[Statement]]) -> None:
    """The baseline builds its answers from the columns of the API's statements as they are
    today: one for a listing's page, a page and its count for a search."""
    listing, search = captured["listing"], captured["search"]
    if len(listing) != 1 or "shop_status" not in listing[0].sql:
        raise SystemExit(f"the API reads a listing with other statements: {listing}")
    if (
        len(search) != 2
        or "_page_key_" not in search[0].sql
        or "capped_matches" not in search[1].sql
    ):
        raise SystemExit(f"the API searches with other statements: {search}")


def baseline_config(
    url: str, settings: Settings, captured: dict[str, list[Statement]], session: dict[str, str]
) -> dict[str, Any]:
    return {
        "dsn": asyncpg_dsn(url),
        "server_settings": session,
        # The API's pool keeps 10 connections (and opens up to 20 more under load).
        "pool_size": 16,
        "media_base_url": f"{settings.public_base_url}/media",
        "jwt_secret": settings.jwt_secret.get_secret_value(),
        "listing": [asdict(s) for s in captured["listing"]],
        "search": [asdict(s) for s in captured["search"]],
        "search_sort": SearchSort.relevance.value,
        "page_size": PAGE_SIZE,
        "count_cap": SEARCH_COUNT_CAP,
    }


async def session_settings(settings: Settings) -> dict[str, str]:
    app = create_app(settings)
    try:
        return await app_session_settings(app.state.database.engine)
    finally:
        await app.state.database.dispose()


# --- agreement and load -----------------------------------------------------------------------


async def require_agreement(api: str, baseline: str, endpoints: list[Endpoint]) -> str:
    """Both sides answer a sample alike (status, JSON, ETag); how alike, in words."""
    identical = 0
    checked = 0
    async with httpx.AsyncClient(timeout=30) as client:
        for endpoint in endpoints:
            for path in endpoint.paths[:AGREEMENT_SAMPLE]:
                ours, theirs = await client.get(api + path), await client.get(baseline + path)
                if ours.status_code != 200 or theirs.status_code != 200:
                    statuses = f"API {ours.status_code}, baseline {theirs.status_code}"
                    raise SystemExit(f"{path}: {statuses}")
                if ours.json() != theirs.json():
                    raise SystemExit(
                        f"{path}: the answers differ\nAPI: {ours.text}\nbaseline: {theirs.text}"
                    )
                if ours.headers.get("etag") != theirs.headers.get("etag"):
                    raise SystemExit(
                        f"{path}: ETags differ: {ours.headers.get('etag')} vs"
                        f" {theirs.headers.get('etag')}"
                    )
                identical += ours.content == theirs.content
                checked += 1
    return f"{checked} sampled answers agree (JSON and ETag); {identical} byte for byte"


def wrk(base_url: str, endpoint: Endpoint, connections: int, seconds: float, work: Path) -> Run:
    paths = work / f"{endpoint.key}.paths"
    paths.write_text("\n".join(endpoint.paths) + "\n")
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "--script",
        str(work / "reads.lua"),
        base_url,
        "--",
        str(paths),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no result from wrk:\n{output}")
    requests, micros, p50, p95, p99, errors = map(int, match.groups())
    if errors or not requests:
        raise SystemExit(f"wrk on {base_url} {endpoint.name}: {errors} errors\n{output}")
    return Run(requests, micros / 1e6, p50 / 1000, p95 / 1000, p99 / 1000, errors)


def render(rows: list[tuple[str, int, Run, Run]], header: list[str]) -> str:
    titles = (
        "endpoint",
        "clients",
        "API req/s",
        "raw req/s",
        "ratio",
        "API p50/p95/p99 ms",
        "raw p50/p95/p99 ms",
        f"aim >= {AIM}x",
    )
    table = [titles]
    for name, clients, api, raw in rows:
        ratio = api.rate / raw.rate
        table.append(
            (
                name,
                str(clients),
                f"{api.rate:,.0f}",
                f"{raw.rate:,.0f}",
                f"{ratio:.2f}x",
                f"{api.p50_ms:.1f} / {api.p95_ms:.1f} / {api.p99_ms:.1f}",
                f"{raw.p50_ms:.1f} / {raw.p95_ms:.1f} / {raw.p99_ms:.1f}",
                "yes" if ratio >= AIM else "NO",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(titles))]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    divider = "-+-".join("-" * width for width in widths)
    return "\n".join([*header, line(table[0]), divider, *(line(row) for row in table[1:])])


def measure(
    args: argparse.Namespace, api: str, baseline: str, endpoints: list[Endpoint], work: Path
) -> list[tuple[str, int, Run, Run]]:
    rows = []
    for endpoint in endpoints:
        for side in (api, baseline):  # warm: pools full, plans and pages cached
            wrk(side, endpoint, max(args.clients), WARM_UP_SECONDS, work)
        for clients in args.clients:
            api_run = wrk(api, endpoint, clients, args.duration, work)
            raw_run = wrk(baseline, endpoint, clients, args.duration, work)
            print(
                f"  {endpoint.name}, {clients} client(s): API {api_run.rate:,.0f} req/s,"
                f" baseline {raw_run.rate:,.0f} req/s",
                flush=True,
            )
            rows.append((endpoint.name, clients, api_run, raw_run))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--listings", type=int, default=200_000, help="listings to load")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--keep", action="store_true", help="reuse a database of this size")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument(
        "--clients",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 16],
        help="wrk connections, comma-separated (default 1,16)",
    )
    parser.add_argument(
        "--api-root", type=Path, default=ROOT, help="checkout whose app the API runs"
    )
    args = parser.parse_args(argv)
    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql") or (url.host or "") not in LOOPBACK_HOSTS:
        parser.error("--database-url must be PostgreSQL on loopback (the database is recreated)")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    if args.duration <= 0 or min(args.clients) < 1:
        parser.error("--duration and --clients must be positive")

    prepare_database(args)
    database_url: str = args.database_url
    listings = asyncio.run(pick_listings(database_url))
    words = search_words()
    endpoints = [
        Endpoint("listing", "GET /v1/listings/{id}", [f"/v1/listings/{i}" for i in listings]),
        Endpoint("search", "GET /v1/listings?q=", [f"/v1/listings?q={w}" for w in words]),
    ]
    api_port, baseline_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as directory:
        work = Path(directory)
        (work / "reads.lua").write_text(WRK_SCRIPT)
        settings, environment = api_settings(database_url, api_port, work / "media")
        captured = asyncio.run(capture(settings, listings[0], words[0]))
        session = asyncio.run(session_settings(settings))
        config = work / "baseline.json"
        config.write_text(json.dumps(baseline_config(database_url, settings, captured, session)))
        baseline_command = [sys.executable, "-m", "uvicorn", "raw_reads_app:app"]
        baseline_command += ["--app-dir", str(ROOT / "scripts"), "--host", "127.0.0.1"]
        baseline_command += ["--port", str(baseline_port), "--no-access-log"]
        baseline_command += ["--log-level", "warning"]
        print("starting the API and the baseline, and measuring", flush=True)
        with (
            api_server(
                database_url, api_port, 1, environment=environment, root=args.api_root
            ) as api,
            server(
                baseline_command,
                baseline_port,
                env={**os.environ, "RAW_READS_CONFIG": str(config)},
                cwd=ROOT,
                ready_path="/readyz",
            ) as baseline,
        ):
            agreement = asyncio.run(require_agreement(api, baseline, endpoints))
            print(f"  {agreement}", flush=True)
            rows = measure(args, api, baseline, endpoints, work)
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    statements = ", ".join(f"{name} {len(found)}" for name, found in captured.items())
    header = [
        f"reads benchmark: {args.listings:,} listings, wrk 1 thread, {args.duration:g} s per"
        f" row, one uvicorn worker per side, {os.cpu_count()} CPUs (load average now {load})",
        f"API: {args.api_root} at {code_version(args.api_root)}; baseline SQL captured from"
        f" {ROOT} at {code_version(ROOT)} (statements per request: {statements})",
        agreement,
    ]
    print()
    print(render(rows, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
