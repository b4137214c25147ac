"""What the catalog benchmarks share: a generated catalog bulk-loaded into a PostgreSQL
database (sellers, a category tree, N listings with 1-4 images each, loaded with server-side
SQL: INSERT ... SELECT generate_series), and the real API started with uvicorn in a
subprocess. Used by bench_search.py and bench_reads.py."""

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import Table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli import migrate
from app.config import Environment, Settings
from app.models_registry import metadata

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/marketplace_bench"
SELLERS = 2_000
SUSPENDED_SELLERS = 20  # the last ones: their listings carry seller_approved = false
LOAD_BATCH = 100_000
STARTUP_TIMEOUT_SECONDS = 60.0


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


def asyncpg_dsn(url: str | URL, database: str | None = None) -> str:
    """The plain libpq URL asyncpg takes, of `url` or of another database on its server."""
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
    email_opt_outs, created_at, updated_at /*extra_columns*/)
SELECT user_id, 'seller' || g || '@bench.example', '!no-login', 'Seller ' || g, false,
    CASE WHEN g > $1::int THEN 'suspended' ELSE 'approved' END, NULL, '[]'::json, joined, joined
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


def code_version(root: Path = ROOT) -> str:
    """The commit of `root`, and whether its app code or migrations differ from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "app", "migrations"],
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
def api_server(
    url: str,
    port: int,
    workers: int,
    *,
    environment: dict[str, str] | None = None,
    root: Path = ROOT,
) -> Iterator[str]:
    """uvicorn in its own process group on loopback; stopped on exit, error or Ctrl-C.
    `environment` adds to or overrides the server's MARKETPLACE_ settings; `root` is the
    checkout whose `app` it runs (another commit's, to measure it with today's script)."""
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": url,
        "MARKETPLACE_ENVIRONMENT": "development",
        "MARKETPLACE_RUN_WORKER_IN_PROCESS": "false",
        "MARKETPLACE_LOG_LEVEL": "WARNING",
        **(environment or {}),
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with server(command, port, env=env, cwd=root, ready_path="/readyz") as base_url:
        yield base_url


@contextlib.contextmanager
def server(
    command: list[str], port: int, *, env: dict[str, str], cwd: Path, ready_path: str
) -> Iterator[str]:
    """`command` (an HTTP server on loopback `port`) in its own process group, until GET
    `ready_path` answers 200; stopped on exit, error or Ctrl-C."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(process, base_url, log, ready_path)
            yield base_url
        finally:
            stop(process)


def wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Any, path: str) -> None:
    """Until GET `path` answers 200 (the server's log in the error if it exits first)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read()[-4000:]
            raise RuntimeError(f"the server exited with {process.returncode}:\n{output}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}{path}", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"the server was not ready within {STARTUP_TIMEOUT_SECONDS:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
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


async def app_session_settings(engine: AsyncEngine) -> dict[str, str]:
    """The settings the app's engine gives its connections (e.g. `jit`), so the raw SQL runs
    under the same planner settings as the API's."""
    async with engine.connect() as connection:
        rows = await connection.exec_driver_sql(
            "SELECT name, setting FROM pg_settings WHERE source = 'client'"
        )
        return {str(row["name"]): str(row["setting"]) for row in rows.mappings()}
