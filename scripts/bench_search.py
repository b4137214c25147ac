#!/usr/bin/env python3
"""Catalog search benchmark: the real HTTP stack beside the same SQL through asyncpg.

    python scripts/bench_search.py --listings 100000
    python scripts/bench_search.py --listings 1000000 --keep   # reuse a loaded database

It (re)creates a PostgreSQL database, runs the Alembic migrations, bulk-loads sellers, a
category tree and N listings (with 1-4 images each) with server-side SQL (INSERT ... SELECT
generate_series), starts
the API with uvicorn in a subprocess and, for seven representative searches, measures latency
percentiles and throughput with concurrent HTTP clients (lean keep-alive connections, see
KeepAliveClient; next to the floor any request pays, GET /healthz). Beside each it runs the
very SQL the API sends for that search (captured from the app's own `catalog.service.search`,
same text and parameters) through asyncpg at the same concurrency, and prints whether the
EXPLAIN plan of that SQL scans `listings` sequentially.

Aim (issue 3): API p95 <= 2 x SQL p95 + 5 ms; text search p95 < 50 ms at 1M listings.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from sqlalchemy import Table, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.catalog import service as catalog_service
from app.catalog.category_tree import CategoryTreeCache
from app.catalog.schemas import SearchSort
from app.cli import migrate
from app.config import Environment, Settings
from app.core.db import create_engine
from app.core.pagination import PageParams
from app.core.storage import LocalDiskStorage
from app.models_registry import metadata

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/marketplace_bench"
PAGE_SIZE = 20
DEEP_PAGES = 50
SELLERS = 2_000
SUSPENDED_SELLERS = 20  # the last ones: their listings carry seller_approved = false
LOAD_BATCH = 100_000
STARTUP_TIMEOUT_SECONDS = 60.0
TEXT_SEARCH_AIM_MS = 50.0
TEXT_SEARCH_AIM_FROM = 1_000_000

# --- the catalog the generator draws from ----------------------------------------------------
# (root name, leaf names, item phrases). Items belong to a root, so a listing's words agree with
# its category, as on a real marketplace; "leather", "vintage" and brands recur across roots.
CATALOG: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "Electronics",
        ("Phones", "Laptops", "Tablets", "Cameras", "Headphones", "TV & Video", "Smartwatches",
         "Game Consoles", "Computer Parts", "Phone Accessories"),
        ("Apple iPhone 13", "Apple iPhone 14 Pro", "iPhone 12 mini", "Samsung Galaxy S23",
         "Samsung Galaxy Tab S8", "Sony WH-1000XM5 headphones", "Canon EOS R6 camera",
         "Nintendo Switch OLED", "Dell XPS 13 laptop", "MacBook Air M2", "leather iPhone case"),
    ),
    (
        "Fashion",
        ("Sneakers", "Boots", "Jackets", "Jeans", "Dresses", "Handbags", "Sunglasses", "Watches",
         "Jewelry", "Hats"),
        ("Nike Air Max 90 sneakers", "Nike Air Jordan 1", "Adidas Ultraboost shoes",
         "vintage leather jacket", "Levi's 501 jeans", "Gucci leather handbag",
         "Ray-Ban Wayfarer sunglasses", "Patagonia fleece jacket", "Dr. Martens leather boots",
         "Zara wool coat"),
    ),
    (
        "Home & Garden",
        ("Furniture", "Lighting", "Kitchen", "Bedding", "Rugs", "Decor", "Garden Tools",
         "Plants", "Appliances", "Storage"),
        ("IKEA oak dining table", "leather sofa", "Dyson V11 vacuum", "KitchenAid stand mixer",
         "vintage brass lamp", "ceramic plant pot", "Le Creuset dutch oven",
         "Weber charcoal grill"),
    ),
    (
        "Sports & Outdoors",
        ("Bikes", "Camping", "Fitness", "Running", "Golf", "Tennis", "Fishing", "Ski",
         "Climbing", "Water Sports"),
        ("Trek mountain bike", "Garmin Forerunner watch", "Yeti cooler",
         "The North Face tent", "Wilson tennis racket", "Nike running shorts",
         "Callaway golf clubs", "Osprey hiking backpack"),
    ),
    (
        "Toys & Games",
        ("Building Sets", "Trading Cards", "Dolls", "Board Games", "Video Games", "Puzzles",
         "Model Cars", "Plush", "Outdoor Toys", "Educational"),
        ("LEGO Star Wars set", "LEGO Technic car", "Pokemon cards booster box",
         "Barbie dreamhouse", "Hot Wheels collection", "PlayStation 5 controller",
         "Xbox Series X", "wooden train set"),
    ),
    (
        "Collectibles & Art",
        ("Coins", "Stamps", "Paintings", "Prints", "Sports Memorabilia", "Antiques", "Comics",
         "Vintage Watches", "Signs", "Records"),
        ("vintage Rolex watch", "signed baseball card", "oil painting landscape",
         "antique silver coin", "vintage Coca-Cola sign", "first edition comic",
         "Omega Seamaster watch", "vinyl record collection"),
    ),
    (
        "Motors",
        ("Car Parts", "Tires", "Car Electronics", "Motorcycle Gear", "Tools", "Oils & Fluids",
         "Interior", "Exterior", "Helmets", "Roof Racks"),
        ("Bosch car battery", "Michelin tires set", "leather car seat covers",
         "Harley-Davidson helmet", "Thule roof box", "Garmin dash cam", "Castrol engine oil",
         "Yamaha motorcycle jacket"),
    ),
    (
        "Health & Beauty",
        ("Hair Care", "Fragrance", "Skin Care", "Makeup", "Oral Care", "Shaving",
         "Fitness Trackers", "Bath", "Nails", "Wellness"),
        ("Dyson Airwrap", "Chanel No 5 perfume", "Philips electric toothbrush",
         "Olaplex hair treatment", "Fitbit Charge tracker", "leather makeup bag",
         "Clinique moisturizer", "Braun shaver"),
    ),
    (
        "Books & Media",
        ("Fiction", "Non-fiction", "Children's Books", "Comics & Manga", "Magazines",
         "E-readers", "Movies", "Music CDs", "Vinyl", "Textbooks"),
        ("Harry Potter box set", "Kindle Paperwhite", "vintage National Geographic",
         "Tolkien hardcover", "Blu-ray collection", "vinyl Beatles LP", "cookbook bundle",
         "leather bound journal"),
    ),
    (
        "Musical Instruments",
        ("Guitars", "Basses", "Pianos", "Drums", "Microphones", "Synthesizers", "Amplifiers",
         "Pedals", "Strings", "Accessories"),
        ("Fender Stratocaster guitar", "Gibson Les Paul", "Yamaha digital piano",
         "Roland drum kit", "Shure SM58 microphone", "Martin acoustic guitar",
         "Korg synthesizer", "vintage leather guitar strap"),
    ),
)  # fmt: skip
ADJECTIVES = (
    "Vintage", "Brand new", "Like new", "Used", "Rare", "Genuine", "Authentic", "Classic",
    "Refurbished", "Mint", "Sealed", "Limited edition", "Handmade", "Original", "Great",
)  # fmt: skip
VARIANTS = (
    "black", "white", "red", "blue", "silver", "gold", "green", "brown", "pink", "grey",
    "size M", "size 42", "128GB", "256GB", "2022 model", "XL",
)  # fmt: skip
SENTENCES = (
    "Barely used and in great shape.", "Comes with the original box and receipt.",
    "Small scratch on the back, see photos.", "Genuine leather, well cared for.",
    "Ships within two days, carefully packed.", "Smoke-free and pet-free home.",
    "Bought last year, selling because I upgraded.", "Vintage piece from the nineties.",
    "Fully tested and working.", "Please ask questions before buying.", "Great gift idea.",
    "Authenticity guaranteed.", "Battery health above ninety percent.",
    "Cleaned and serviced recently.", "Local pickup possible.", "Stored indoors, no damage.",
    "All accessories included.", "Minor signs of wear on the corners.",
    "Colour is slightly brighter than in the photos.", "Bundle discounts available.",
    "Rare find in this condition.", "Works with most chargers.",
    "Made of solid wood.", "Perfect for collectors.", "Never worn, tags attached.",
    "Firm price, no trades.", "Packed with bubble wrap.", "Original charger included.",
    "Serial number visible on request.", "Limited stock, order soon.",
)  # fmt: skip


def slugify(name: str) -> str:
    kept = "".join(c if c.isalnum() else " " for c in name.lower().replace("'", ""))
    return "-".join(kept.split())


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def database_name(url: str) -> str:
    name = make_url(url).database
    if not name:
        raise SystemExit("--database-url must name a database")
    return name


def bench_settings(url: str) -> Settings:
    return Settings(
        environment=Environment.development,
        database_url=url,
        log_level="WARNING",
        log_json=False,
        run_worker_in_process=False,
    )


# --- database preparation ---------------------------------------------------------------------


def data_fingerprint(listings: int) -> str:
    """What a loaded database was built from: the migrations and this generator's data."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    generator = (CATALOG, ADJECTIVES, VARIANTS, SENTENCES, SELLERS, SUSPENDED_SELLERS)
    statements = (_LISTINGS_SQL, _IMAGES_SQL, _USERS_SQL, _SELLERS_SQL)
    digest.update(repr((generator, statements)).encode())
    return f"bench_search listings={listings} data={digest.hexdigest()[:16]}"


async def loaded_fingerprint(url: str) -> str | None:
    """The fingerprint an existing bench database was stamped with (None: none)."""
    try:
        connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        stamp: str | None = await connection.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE datname = current_database()"
        )
        return stamp
    finally:
        await connection.close()


async def recreate_database(url: str) -> None:
    name = database_name(url)
    connection = await asyncpg.connect(asyncpg_dsn(url, "postgres"), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def load_data(url: str, listings: int) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        # A throwaway database: durability buys nothing during the bulk load.
        await connection.execute("SET synchronous_commit = off")
        await connection.execute("SET maintenance_work_mem = '512MB'")
        started = time.perf_counter()
        await _load_sellers(connection)
        leaf_ids = await _load_categories(connection)
        # Building the secondary indexes once after the load is far faster than maintaining
        # them row by row; their definitions are read back from the migrated schema, so the
        # rebuilt indexes are exactly the migration's.
        index_rows = await connection.fetch(
            "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid IN ('listings'::regclass, 'listing_images'::regclass)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)"
        )
        for row in index_rows:
            await connection.execute(f'DROP INDEX "{row["name"]}"')
        for start in range(1, listings + 1, LOAD_BATCH):
            end = min(start + LOAD_BATCH - 1, listings)
            await _load_listings(connection, start, end, leaf_ids)
            print(
                f"  loaded {end:,}/{listings:,} listings ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        await connection.execute(
            with_model_defaults(_IMAGES_SQL, metadata.tables["listing_images"])
        )
        print(f"  loaded their images ({time.perf_counter() - started:.0f} s)", flush=True)
        for row in index_rows:
            await connection.execute(row["definition"])
        print(f"  indexes rebuilt ({time.perf_counter() - started:.0f} s)", flush=True)
        # VACUUM sets the visibility map as autovacuum would on a settled table.
        await connection.execute(
            "VACUUM (ANALYZE) users, sellers, categories, listings, listing_images"
        )
        # Flush the load's dirty pages now rather than in a checkpoint during the measurements.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await connection.execute("CHECKPOINT")
        print(f"  vacuumed and analysed ({time.perf_counter() - started:.0f} s)", flush=True)
        stamp = data_fingerprint(listings).replace("'", "''")
        await connection.execute(f"COMMENT ON DATABASE \"{database_name(url)}\" IS '{stamp}'")
    finally:
        await connection.close()


# One to four photos per listing (as search cards show them), the count drawn from the id.
_IMAGES_SQL = """
INSERT INTO listing_images (id, listing_id, storage_key, content_type, size_bytes, position,
    created_at /*extra_columns*/)
SELECT gen_random_uuid(), l.id, 'bench/' || l.id || '/' || n || '.jpg', 'image/jpeg',
    40000 + get_byte(uuid_send(l.id), 14) * 1000, n, l.created_at
    /*extra_values*/
FROM listings l CROSS JOIN LATERAL generate_series(0, get_byte(uuid_send(l.id), 15) % 4) AS n
"""
_USERS_SQL = """
INSERT INTO users (id, email, password_hash, display_name, is_admin, seller_status, deleted_at,
    created_at, updated_at /*extra_columns*/)
SELECT user_id, 'seller' || g || '@bench.example', '!no-login', 'Seller ' || g, false,
    CASE WHEN g > $1::int THEN 'suspended' ELSE 'approved' END, NULL, joined, joined
    /*extra_values*/
FROM bench_people
"""
_SELLERS_SQL = """
INSERT INTO sellers (id, user_id, shop_name, slug, description, legal_name, seller_type, country,
    contact_email, contact_phone, payout_account, status, status_reason, approved_at,
    decided_at, created_at, updated_at /*extra_columns*/)
SELECT seller_id, user_id, 'Shop ' || g, 'shop-' || g, 'Bench shop number ' || g,
    'Bench Trader ' || g, CASE WHEN g % 3 = 0 THEN 'business' ELSE 'individual' END,
    (ARRAY['US', 'GB', 'DE', 'FR', 'NL', 'ES', 'IT', 'PL'])[1 + g % 8],
    'seller' || g || '@bench.example', '+1555' || lpad(g::text, 7, '0'),
    'DE89370400440532013' || lpad(g::text, 3, '0'),
    CASE WHEN g > $1::int THEN 'suspended' ELSE 'approved' END,
    CASE WHEN g > $1::int THEN 'bench: suspended' END,
    joined + interval '1 day', joined + interval '1 day', joined, joined
    /*extra_values*/
FROM bench_people
"""
_INSERT_COLUMNS = re.compile(r"INSERT INTO \w+ \(([^)]*)\)")


def _sql_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


def with_model_defaults(sql: str, table: Table) -> str:
    """`sql` (an INSERT ... SELECT) also filling the required columns it does not name with
    their model defaults, so the loader keeps working as the schema grows, and stops with a
    clear message when a new required column has no default to use."""
    match = _INSERT_COLUMNS.search(sql)
    assert match is not None
    written = {c.strip() for c in match.group(1).replace("/*extra_columns*/", "").split(",")}
    extra: dict[str, str] = {}
    for column in table.columns:
        if column.name in written or column.nullable:
            continue
        default: Any = column.default
        if default is not None and default.is_scalar:
            extra[column.name] = _sql_literal(default.arg)
        elif column.server_default is None:
            raise SystemExit(f"the loader does not fill the new column {table.name}.{column.name}")
    columns = "".join(f", {name}" for name in extra)
    values = "".join(f", {value}" for value in extra.values())
    return sql.replace("/*extra_columns*/", columns).replace("/*extra_values*/", values)


async def _load_sellers(connection: asyncpg.Connection) -> None:
    await connection.execute(
        "CREATE TEMP TABLE bench_people AS SELECT g, gen_random_uuid() AS user_id,"
        " gen_random_uuid() AS seller_id,"
        " now() - interval '2 years' * random() - interval '1 year' AS joined"
        " FROM generate_series(1, $1::int) g",
        SELLERS,
    )
    approved = SELLERS - SUSPENDED_SELLERS
    await connection.execute(with_model_defaults(_USERS_SQL, metadata.tables["users"]), approved)
    await connection.execute(
        with_model_defaults(_SELLERS_SQL, metadata.tables["sellers"]), approved
    )


async def _load_categories(connection: asyncpg.Connection) -> list[uuid.UUID]:
    """The tree (roots, then their leaves) and the leaf ids, root-major."""
    leaf_ids: list[uuid.UUID] = []
    rows: list[tuple[uuid.UUID, str, str, uuid.UUID | None, int]] = []
    for position, (root, leaves, _items) in enumerate(CATALOG):
        root_id = uuid.uuid4()
        rows.append((root_id, root, slugify(root), None, position))
        for leaf_position, leaf in enumerate(leaves):
            leaf_id = uuid.uuid4()
            leaf_ids.append(leaf_id)
            rows.append((leaf_id, leaf, f"{slugify(root)}-{slugify(leaf)}", root_id, leaf_position))
    await connection.executemany(
        "INSERT INTO categories (id, name, slug, parent_id, position) VALUES ($1, $2, $3, $4, $5)",
        rows,
    )
    return leaf_ids


# One row per listing; the random draws are made once per row in the inner query (OFFSET 0
# keeps the planner from folding it into the outer one and re-drawing), then combined.
_LISTINGS_SQL = """
INSERT INTO listings (id, seller_id, category_id, title, description, price_amount, currency,
    shipping_fee_amount, quantity, condition, attributes, handling_days, status, status_reason,
    seller_approved, report_count, published_at, created_at, updated_at /*extra_columns*/)
SELECT gen_random_uuid(),
    w.seller_ids[d.seller],
    w.leaf_ids[w.item_roots[d.item] * w.leaves_per_root + d.leaf],
    concat_ws(' ', w.adjectives[d.adjective], w.items[d.item], w.variants[d.variant]),
    'Selling my ' || lower(w.items[d.item]) || ' (' || w.variants[d.variant] || '). '
        || w.sentences[d.s1] || ' ' || w.sentences[d.s2] || ' ' || w.sentences[d.s3] || ' '
        || w.sentences[d.s4] || ' Part numbers kx' || d.part1 || ', kx' || d.part2 || '.',
    d.price,
    'USD',
    d.shipping,
    CASE WHEN d.state = 'sold_out' THEN 0 ELSE d.quantity END,
    (ARRAY['new', 'like_new', 'good', 'fair', 'for_parts'])[d.condition],
    '{}'::json,
    d.handling,
    d.state,
    NULL,
    d.seller <= w.approved_sellers,
    0,
    d.published,
    d.published - interval '3 days' * d.age,
    d.published
    /*extra_values*/
FROM (
    SELECT g,
        1 + floor(power(random(), 2) * $7::int)::int AS seller,
        1 + floor(random() * cardinality($3::text[]))::int AS item,
        1 + floor(random() * $9::int)::int AS leaf,
        1 + floor(random() * cardinality($4::text[]))::int AS adjective,
        1 + floor(random() * cardinality($5::text[]))::int AS variant,
        1 + floor(random() * cardinality($6::text[]))::int AS s1,
        1 + floor(random() * cardinality($6::text[]))::int AS s2,
        1 + floor(random() * cardinality($6::text[]))::int AS s3,
        1 + floor(random() * cardinality($6::text[]))::int AS s4,
        -- a long tail of rare words, as real descriptions have (model and part numbers):
        -- Zipf-like, part k about as frequent as 1/k, so a few are common and most are rare
        floor(exp(random() * ln(20000)))::int AS part1,
        floor(exp(random() * ln(20000)))::int AS part2,
        -- log-uniform between $5 and $5,000: many cheap things, few expensive ones
        (500 * exp(random() * ln(1000)))::bigint AS price,
        (floor(random() * 16) * 100)::bigint AS shipping,
        1 + floor(random() * 10)::int AS quantity,
        1 + floor(random() * 5)::int AS condition,
        1 + floor(random() * 5)::int AS handling,
        CASE
            WHEN r < 0.90 THEN 'active'
            WHEN r < 0.93 THEN 'sold_out'
            WHEN r < 0.96 THEN 'paused'
            WHEN r < 0.98 THEN 'draft'
            ELSE 'archived'
        END AS state,
        now() - interval '365 days' * random() AS published,
        random() AS age
    FROM generate_series($11::int, $12::int) g
    CROSS JOIN LATERAL (SELECT random() + 0 * g AS r) status_draw
    OFFSET 0
) d
CROSS JOIN (
    SELECT $1::uuid[] AS seller_ids, $2::uuid[] AS leaf_ids, $3::text[] AS items,
        $4::text[] AS adjectives, $5::text[] AS variants, $6::text[] AS sentences,
        $8::int AS approved_sellers, $9::int AS leaves_per_root, $10::int[] AS item_roots
) w
"""


async def _load_listings(
    connection: asyncpg.Connection, start: int, end: int, leaf_ids: list[uuid.UUID]
) -> None:
    seller_ids = await connection.fetchval(
        "SELECT array_agg(seller_id ORDER BY g) FROM bench_people"
    )
    items: list[str] = []
    item_roots: list[int] = []
    for root_index, (_root, _leaves, root_items) in enumerate(CATALOG):
        items.extend(root_items)
        item_roots.extend([root_index] * len(root_items))
    leaves_per_root = len(CATALOG[0][1])
    assert all(len(leaves) == leaves_per_root for _r, leaves, _i in CATALOG)
    await connection.execute(
        with_model_defaults(_LISTINGS_SQL, metadata.tables["listings"]),
        seller_ids,
        leaf_ids,
        items,
        list(ADJECTIVES),
        list(VARIANTS),
        list(SENTENCES),
        SELLERS,
        SELLERS - SUSPENDED_SELLERS,
        leaves_per_root,
        item_roots,
        start,
        end,
    )


def prepare_database(args: argparse.Namespace) -> None:
    url: str = args.database_url
    if args.keep:
        stamp = asyncio.run(loaded_fingerprint(url))
        if stamp == data_fingerprint(args.listings):
            print(f"reusing {database_name(url)}: {args.listings:,} listings", flush=True)
            return
        print(f"--keep: {database_name(url)} holds other data ({stamp}); reloading", flush=True)
    print(f"creating {database_name(url)} and loading {args.listings:,} listings", flush=True)
    asyncio.run(recreate_database(url))
    migrate(bench_settings(url))
    asyncio.run(load_data(url, args.listings))


def code_version() -> str:
    """The commit measured, and whether app code or migrations differ from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "app", "migrations"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (
        f" + {len(changed)} uncommitted change(s) in app/ and migrations/" if changed else ""
    )


# --- the API server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def api_server(url: str, port: int, workers: int) -> Iterator[str]:
    """uvicorn in its own process group on loopback; stopped on exit, error or Ctrl-C."""
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": url,
        "MARKETPLACE_ENVIRONMENT": "development",
        "MARKETPLACE_RUN_WORKER_IN_PROCESS": "false",
        "MARKETPLACE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, base_url, log)
            yield base_url
        finally:
            _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Any) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the API exited with {process.returncode}:\n{log.read()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"the API was not ready within {STARTUP_TIMEOUT_SECONDS:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The group is the one this script created for the server (and any uvicorn workers).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# --- queries ----------------------------------------------------------------------------------


@dataclass
class Search:
    name: str
    params: dict[str, str]
    text: bool = False
    sql: str = ""
    args: tuple[Any, ...] = ()


@dataclass
class Load:
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return cuts[round(p) - 1]

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


class KeepAliveClient:
    """GET over one HTTP/1.1 keep-alive connection, with no more client-side work than a
    request needs. The API side is timed through this, not httpx: httpx spends about 0.6 ms
    of its own per request (measured against GET /healthz), which is the client's cost, not
    the API's, and the SQL side has no such cost in asyncpg."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, base_url: str) -> "KeepAliveClient":
        url = httpx.URL(base_url)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        return cls(reader, writer)

    async def get(self, target: str) -> tuple[int, bytes]:
        """The status and body of GET `target` (a path with its query string)."""
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in header_lines if line)
        if "content-length" not in headers:  # the API sends whole bodies, never chunked
            raise RuntimeError(f"no Content-Length in the response to {target}: {head!r}")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return int(status_line.split(" ", 2)[1]), body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def keep_alive_clients(base_url: str, count: int) -> AsyncIterator[list[KeepAliveClient]]:
    """`count` fresh connections (uvicorn closes idle ones after a few seconds)."""
    clients = [await KeepAliveClient.connect(base_url) for _ in range(count)]
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


@dataclass
class Plan:
    seq_scan_custom: bool
    seq_scan_generic: bool
    indexes: list[str]
    execution_ms: float
    jit: bool


async def pick_targets(url: str) -> tuple[str, str, str]:
    """Two root slugs and the seller with the most live listings (a power seller)."""
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        seller = await connection.fetchval(
            "SELECT seller_id FROM listings WHERE status = 'active' AND seller_approved"
            " GROUP BY seller_id ORDER BY count(*) DESC, seller_id LIMIT 1"
        )
    finally:
        await connection.close()
    return slugify(CATALOG[1][0]), slugify(CATALOG[0][0]), str(seller)


async def deep_cursor(client: httpx.AsyncClient) -> str:
    """Follow `next_cursor` DEEP_PAGES pages into the newest-first listing."""
    cursor: str | None = None
    for _ in range(DEEP_PAGES):
        params = {"sort": "newest", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/listings", params=params)
        response.raise_for_status()
        next_cursor = response.json()["next_cursor"]
        if next_cursor is None:
            break
        cursor = next_cursor
    if cursor is None:
        raise RuntimeError("too few listings to page through")
    return cursor


async def app_session_settings(engine: AsyncEngine) -> dict[str, str]:
    """The settings the app's engine gives its connections (e.g. `jit`), so the raw SQL runs
    under the same planner settings as the API's."""
    async with engine.connect() as connection:
        rows = await connection.exec_driver_sql(
            "SELECT name, setting FROM pg_settings WHERE source = 'client'"
        )
        return {str(row["name"]): str(row["setting"]) for row in rows.mappings()}


async def capture_sql(engine: AsyncEngine, search: Search) -> None:
    """The listings statement the API sends for `search`: the app's own service runs it here
    while a listener records the SQL text and parameters handed to asyncpg."""
    seen: list[tuple[str, tuple[Any, ...]]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        seen.append((statement, tuple(parameters or ())))

    params = search.params
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with async_sessionmaker(engine)() as session:
            await catalog_service.search(
                session,
                q=params.get("q"),
                category=params.get("category"),
                min_price=int(params["min_price"]) if "min_price" in params else None,
                max_price=int(params["max_price"]) if "max_price" in params else None,
                conditions=[],
                seller_id=uuid.UUID(params["seller"]) if "seller" in params else None,
                sort=SearchSort(params["sort"]) if "sort" in params else None,
                page=PageParams(limit=PAGE_SIZE, cursor=params.get("cursor")),
                facets=False,
                storage=LocalDiskStorage(Path(tempfile.gettempdir())),
                category_tree=CategoryTreeCache(timedelta(seconds=60)),
                currency="USD",
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    # The page's statement; a first page also counts its matches (over `capped_matches`).
    statements = [s for s in seen if "FROM listings" in s[0] and "capped_matches" not in s[0]]
    if len(statements) != 1:
        raise RuntimeError(f"expected one listings statement for {search.name}, saw {seen}")
    search.sql, search.args = statements[0]


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _plan_nodes(child)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text.replace("'", "''") + "'"


async def explain(connection: asyncpg.Connection, search: Search) -> Plan:
    """The plan PostgreSQL picks with these parameters (custom plan, as EXPLAIN ANALYZE runs
    it) and the generic plan a prepared statement may switch to after five executions."""
    raw = await connection.fetchval(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + search.sql, *search.args
    )
    custom = json.loads(raw)[0]
    nodes = list(_plan_nodes(custom["Plan"]))
    await connection.execute("PREPARE bench_generic AS " + search.sql)
    try:
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        arguments = ", ".join(_literal(a) for a in search.args)
        execute = f"EXECUTE bench_generic({arguments})" if search.args else "EXECUTE bench_generic"
        generic = json.loads(await connection.fetchval(f"EXPLAIN (FORMAT JSON) {execute}"))[0]
    finally:
        await connection.execute("RESET plan_cache_mode")
        await connection.execute("DEALLOCATE bench_generic")

    def seq_scans(plan_nodes: Sequence[dict[str, Any]]) -> bool:
        return any(
            n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "listings"
            for n in plan_nodes
        )

    indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    return Plan(
        seq_scan_custom=seq_scans(nodes),
        seq_scan_generic=seq_scans(list(_plan_nodes(generic["Plan"]))),
        indexes=indexes,
        execution_ms=float(custom["Execution Time"]),
        jit="JIT" in custom,
    )


# --- load generation --------------------------------------------------------------------------


async def run_load(
    call: Callable[[int], Awaitable[None]],
    *,
    concurrency: int,
    requests: int,
    duration: float | None,
) -> Load:
    """`concurrency` workers issuing `call` back to back, for `requests` calls in total or
    for `duration` seconds."""
    load = Load()
    remaining = requests
    deadline = time.perf_counter() + duration if duration is not None else None

    async def worker(index: int) -> None:
        nonlocal remaining
        while True:
            if deadline is None:
                if remaining <= 0:
                    return
                remaining -= 1
            elif time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            await call(index)
            load.latencies_ms.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for index in range(concurrency):
            group.create_task(worker(index))
    load.seconds = time.perf_counter() - started
    return load


@dataclass
class Row:
    search: Search
    api: Load
    sql: Load
    plan: Plan


def aim_met(row: Row, listings: int) -> str:
    api_p95, sql_p95 = row.api.percentile(95), row.sql.percentile(95)
    misses = []
    if api_p95 > 2 * sql_p95 + 5:
        misses.append(f">2x{sql_p95:.1f}+5")
    if row.search.text and listings >= TEXT_SEARCH_AIM_FROM and api_p95 >= TEXT_SEARCH_AIM_MS:
        misses.append(f">={TEXT_SEARCH_AIM_MS:.0f}ms")
    return "yes" if not misses else "NO " + ",".join(misses)


def render(
    rows: Sequence[Row], args: argparse.Namespace, targets: dict[str, str], floor: Load
) -> str:
    header = (
        "query",
        "api p50",
        "api p95",
        "api p99",
        "api req/s",
        "sql p50",
        "sql p95",
        "sql p99",
        "sql req/s",
        "aim met",
    )
    table: list[tuple[str, ...]] = [header]
    for row in rows:
        table.append(
            (
                row.search.name,
                *(f"{row.api.percentile(p):.1f}" for p in (50, 95, 99)),
                f"{row.api.rate:.0f}",
                *(f"{row.sql.percentile(p):.1f}" for p in (50, 95, 99)),
                f"{row.sql.rate:.0f}",
                aim_met(row, args.listings),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            c.ljust(w) if i in (0, len(cells) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    amount = f"{args.requests} requests" if args.duration is None else f"{args.duration:g} s"
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    out = [
        f"search benchmark: {args.listings:,} listings, concurrency {args.concurrency}, "
        f"{amount} per query and side, {args.workers} uvicorn worker(s), "
        f"{os.cpu_count()} CPUs (load average now {load}); latencies in ms",
        f"code: {args.code_version}",
        f"HTTP floor, GET /healthz through the same client: p50 {floor.percentile(50):.1f},"
        f" p95 {floor.percentile(95):.1f}, p99 {floor.percentile(99):.1f} ms,"
        f" {floor.rate:.0f} req/s",
        line(table[0]),
        "-+-".join("-" * w for w in widths),
        *(line(r) for r in table[1:]),
        "",
        f"targets: {', '.join(f'{k}={v}' for k, v in targets.items())}",
        "EXPLAIN (the SQL above, as the API sends it):",
    ]
    for row in rows:
        plan = row.plan
        out.append(
            f"  {row.search.name}: Seq Scan on listings: "
            f"{'YES' if plan.seq_scan_custom else 'no'} (custom plan), "
            f"{'YES' if plan.seq_scan_generic else 'no'} (generic plan); "
            f"indexes {', '.join(plan.indexes) or 'none'}; "
            f"EXPLAIN ANALYZE {plan.execution_ms:.1f} ms{' (incl. JIT)' if plan.jit else ''}"
        )
    return "\n".join(out)


async def benchmark(args: argparse.Namespace, base_url: str) -> str:
    url: str = args.database_url
    fashion, electronics, seller = await pick_targets(url)
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    engine = create_engine(bench_settings(url))
    session_settings = await app_session_settings(engine)
    connections = [
        await asyncpg.connect(asyncpg_dsn(url), timeout=10, server_settings=session_settings)
        for _ in range(args.concurrency)
    ]
    try:
        # Rare-ish words read thousands of heap pages; whether they are in PostgreSQL's own
        # buffers or only in the OS cache shows in their SQL times.
        shared_buffers = await connections[0].fetchval("SHOW shared_buffers")
        floor = await _measure_floor(args, base_url)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
            searches = [
                Search("text: q=iphone", {"q": "iphone"}, text=True),
                Search("text, rarer word: q=stratocaster", {"q": "stratocaster"}, text=True),
                # About ten listings carry this part number: the GIN index finds them directly.
                Search("text, rare part number: q=kx19997", {"q": "kx19997"}, text=True),
                Search(
                    f"text+category: q=leather&category={fashion}",
                    {"q": "leather", "category": fashion},
                    text=True,
                ),
                Search(
                    f"category+price sort: category={electronics}&1000..50000&price_asc",
                    {
                        "category": electronics,
                        "min_price": "1000",
                        "max_price": "50000",
                        "sort": "price_asc",
                    },
                ),
                Search("seller: seller=<top seller>", {"seller": seller}),
                Search(
                    f"deep page: newest, cursor {DEEP_PAGES} pages deep",
                    {"sort": "newest", "cursor": await deep_cursor(client)},
                ),
            ]
            rows = []
            for search in searches:
                await capture_sql(engine, search)
                rows.append(await _measure(args, client, base_url, connections, search))
                row = rows[-1]
                print(
                    f"  measured {search.name}: api p95 {row.api.percentile(95):.1f} ms,"
                    f" sql p95 {row.sql.percentile(95):.1f} ms",
                    flush=True,
                )
    finally:
        for connection in connections:
            await connection.close()
        await engine.dispose()
    targets = {"seller": seller, "root categories": f"{fashion}, {electronics}"}
    targets["app session settings"] = str(session_settings or "none")
    targets["PostgreSQL shared_buffers"] = shared_buffers
    return render(rows, args, targets, floor)


async def _measure_floor(args: argparse.Namespace, base_url: str) -> Load:
    """GET /healthz (no database, no dependencies): what any request costs through uvicorn,
    the middleware and routing, and the client."""
    async with keep_alive_clients(base_url, args.concurrency) as http:
        return await _time_gets(args, http, "/healthz")


async def _time_gets(args: argparse.Namespace, http: list[KeepAliveClient], target: str) -> Load:
    """A warm-up, then timed GETs of `target` (each must answer 200). The warm-up also lets
    every pooled database connection of the API prepare its statements (and PostgreSQL
    settle on its plans), as in steady-state traffic."""

    async def get(index: int) -> None:
        status_code, body = await http[index].get(target)
        if status_code != 200:
            raise RuntimeError(f"{target}: HTTP {status_code}: {body[:300]!r}")

    await run_load(get, requests=2 * args.concurrency, concurrency=args.concurrency, duration=None)
    return await run_load(
        get, requests=args.requests, concurrency=args.concurrency, duration=args.duration
    )


async def _measure(
    args: argparse.Namespace,
    client: httpx.AsyncClient,
    base_url: str,
    connections: list[asyncpg.Connection],
    search: Search,
) -> Row:
    # The SQL must be the API's: the same listings in the same order.
    response = await client.get("/v1/listings", params=search.params)
    response.raise_for_status()
    api_ids = [item["id"] for item in response.json()["items"]]
    sql_ids = [str(r["id"]) for r in await connections[0].fetch(search.sql, *search.args)]
    if api_ids != sql_ids[:PAGE_SIZE] or not api_ids:
        raise RuntimeError(f"{search.name}: API and SQL disagree ({api_ids} vs {sql_ids})")

    async with keep_alive_clients(base_url, args.concurrency) as http:
        api = await _time_gets(args, http, f"/v1/listings?{urlencode(search.params)}")

    async def sql_call(index: int) -> None:
        await connections[index].fetch(search.sql, *search.args)

    await run_load(
        sql_call, requests=2 * args.concurrency, concurrency=args.concurrency, duration=None
    )
    sql = await run_load(
        sql_call, requests=args.requests, concurrency=args.concurrency, duration=args.duration
    )
    plan = await explain(connections[0], search)
    return Row(search, api, sql, plan)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--listings", type=int, default=100_000, help="listings to load")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=400, help="requests per query and side")
    parser.add_argument("--duration", type=float, help="seconds per query and side instead")
    parser.add_argument("--keep", action="store_true", help="reuse a database of this size")
    parser.add_argument("--port", type=int, default=0, help="API port (0: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    if args.listings < 2_000:
        parser.error("--listings must be at least 2000 (the deep page needs 50 pages)")
    if (
        args.concurrency < 1
        or args.requests < 2
        or (args.duration is not None and args.duration <= 0)
    ):
        parser.error("--concurrency, --requests and --duration must be positive")
    if not make_url(args.database_url).drivername.startswith("postgresql"):
        parser.error("--database-url must be PostgreSQL")

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(143)  # unwinds through the server's cleanup

    signal.signal(signal.SIGTERM, terminate)
    args.code_version = code_version()  # before the load: the code the run starts with
    prepare_database(args)
    print("starting the API and measuring", flush=True)
    with api_server(args.database_url, args.port or free_port(), args.workers) as base_url:
        table = asyncio.run(benchmark(args, base_url))
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
