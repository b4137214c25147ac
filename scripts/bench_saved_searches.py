#!/usr/bin/env python3
"""Saved-search matching benchmark (PostgreSQL): 100k saved searches, one hour of new
listings (10k), the worker's matching job timed batch by batch, against the naive way — each
saved search run as its own search over the hour's new listings — timed the same way.

    .venv/bin/python scripts/bench_saved_searches.py [--database-url URL] [--keep]

A scratch database (default `marketplace_bench_saved_searches` on the local server) is
created, migrated with Alembic and filled: a background catalogue (bench_support's generator,
`--listings`), `--users` people holding `--saved-searches` searches drawn from the
catalogue's own words (1-3 words, a category, a shop, price ranges, conditions; 70% instant,
30% daily), then `--new-listings` listings gone live within the last hour. The matching job
(app.watchlists.tasks.match_one_saved_searches_batch, one transaction per batch of 500
listings) then runs from a watermark an hour back until it has read them all; notices
(outbox events and notifications) are written as in production. The baseline runs a
sample of the saved searches each as one SQL statement over the hour's listings (the
`simple` text search configuration, prefix words: what the matcher matches) and
extrapolates to all of them; the same sample's matches are compared with the worker's. The
database is dropped at the end unless `--keep`."""

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass

import asyncpg
from bench_support import (
    ADJECTIVES,
    CATALOG,
    _load_listings,
    asyncpg_dsn,
    bench_settings,
    code_version,
    database_name,
    load_data,
    recreate_database,
    with_model_defaults,
)

from app.catalog.service import query_terms as search_terms
from app.cli import migrate
from app.core.db import Database
from app.models_registry import metadata
from app.watchlists.matching import index_key
from app.watchlists.tasks import SETTLE, match_one_saved_searches_batch

DEFAULT_DATABASE_URL = os.environ.get(
    "MARKETPLACE_BENCH_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/marketplace_bench_saved_searches",
)
CONDITIONS = ("new", "like_new", "good", "fair", "for_parts")

_USERS_SQL = """
INSERT INTO users (id, email, password_hash, display_name, is_admin, seller_status, deleted_at,
    email_opt_outs, created_at, updated_at /*extra_columns*/)
SELECT u, 'watcher-' || u || '@bench.example', '!no-login', 'Watcher', false, 'none', NULL,
    '[]'::json, now(), now() /*extra_values*/
FROM unnest($1::uuid[]) u
"""


@dataclass(frozen=True, slots=True)
class Timings:
    seconds: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.seconds)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def _vocabulary() -> list[str]:
    """Words a buyer would save: the catalogue's item words and adjectives, and part
    numbers (rare words, as real descriptions have)."""
    words: set[str] = set()
    for _root, _leaves, items in CATALOG:
        for item in items:
            words.update(w for w in search_terms(item) if len(w) > 2)
    for adjective in ADJECTIVES:
        words.update(search_terms(adjective))
    return sorted(words)


async def _fill(url: str, args: argparse.Namespace) -> tuple[list[uuid.UUID], int]:
    """The users, their saved searches and keys, and the hour's new listings; returns the
    saved search ids and how many listings went live in the hour."""
    rng = random.Random(19)
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        await connection.execute("SET synchronous_commit = off")
        categories = await connection.fetch("SELECT id, parent_id FROM categories")
        category_ids = [row["id"] for row in categories]
        sellers = [row["id"] for row in await connection.fetch("SELECT id FROM sellers")]
        users = [uuid.uuid4() for _ in range(args.users)]
        await connection.execute(with_model_defaults(_USERS_SQL, metadata.tables["users"]), users)
        vocabulary = _vocabulary()
        rows = []
        keys = []
        items = [search_terms(item) for _root, _leaves, phrases in CATALOG for item in phrases]
        for n in range(args.saved_searches):
            kind = rng.random()
            terms: list[str] = []
            category = seller = None
            if kind < 0.65:
                # A model or part number (rare words, as on a real marketplace) and a word.
                terms = [rng.choice(vocabulary), f"kx{rng.randint(1000, 19999)}"]
            elif kind < 0.85:
                # Two words of one item, in a category.
                item = rng.choice([words for words in items if len(words) > 1])
                terms = rng.sample(item, 2)
                category = rng.choice(category_ids)
            elif kind < 0.95:
                category = rng.choice(category_ids)
            else:
                seller = rng.choice(sellers)
            low = high = None
            if (category is not None and not terms) or rng.random() < 0.3:
                low = rng.choice((None, 1000, 2500, 5000))
                high = rng.choice((10_000, 25_000, 100_000))
            conditions = rng.sample(CONDITIONS, rng.randint(1, 3)) if rng.random() < 0.2 else []
            daily = rng.random() < 0.3
            search_id = uuid.uuid4()
            rows.append(
                (
                    search_id,
                    users[n % len(users)],
                    f"search {n}",
                    " ".join(terms) or None,
                    json_list(terms),
                    category,
                    low,
                    high,
                    json_list(conditions),
                    seller,
                    "daily" if daily else "instant",
                    daily,
                )
            )
            keys.append((search_id, index_key(terms, category, seller)))
        await connection.executemany(
            "INSERT INTO saved_searches (id, user_id, name, query, terms, category_id, min_price,"
            " max_price, conditions, seller_id, frequency, digest_due_at, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8, $9::json, $10, $11,"
            " CASE WHEN $12::bool THEN now() + interval '1 day' END, now(), now())",
            rows,
        )
        await connection.executemany(
            "INSERT INTO saved_search_keys (saved_search_id, key) VALUES ($1, $2)", keys
        )
        # The hour's new listings: drawn by the same generator, then made live within it.
        await connection.execute("CREATE TEMP TABLE old_listings AS SELECT id FROM listings")
        total = await connection.fetchval("SELECT count(*) FROM listings")
        # The generator's shops, numbered as it numbered them ('shop-<g>').
        await connection.execute(
            "CREATE TEMP TABLE bench_people AS"
            " SELECT split_part(slug, '-', 2)::int AS g, id AS seller_id FROM sellers"
        )
        # Root-major, as bench_support's generator files items under their root's leaves.
        leaf_ids = await connection.fetchval(
            "SELECT array_agg(c.id ORDER BY p.position, c.position) FROM categories c"
            " JOIN categories p ON p.id = c.parent_id"
        )
        await _load_listings(connection, total + 1, total + args.new_listings, list(leaf_ids))
        settle = SETTLE.total_seconds()
        live = await connection.execute(
            "UPDATE listings SET status = 'active', seller_approved = true, quantity = 3,"
            f" published_at = now() - interval '{settle + 1} seconds'"
            "   - interval '1 hour' * random() * 0.999,"
            " created_at = now() - interval '2 hours', updated_at = now() - interval '1 hour'"
            " WHERE id NOT IN (SELECT id FROM old_listings)"
        )
        await connection.execute(
            "UPDATE watchlist_watermarks SET position_at = now() - interval '1 hour'"
            f" - interval '{settle + 2} seconds', position_id = '{uuid.UUID(int=0)}'"
            " WHERE job = 'saved_searches'"
        )
        await connection.execute(
            "VACUUM (ANALYZE) listings, saved_searches, saved_search_keys, users"
        )
        return [row[0] for row in rows], int(live.split()[-1])
    finally:
        await connection.close()


def json_list(values: list[str]) -> str:
    return json.dumps(values)


async def _run_worker(url: str) -> tuple[Timings, float]:
    database = Database(bench_settings(url))
    durations = []
    started = time.perf_counter()
    try:
        while True:
            batch_started = time.perf_counter()
            async with database.session_scope() as session:
                more = await match_one_saved_searches_batch(session)
            if not more:
                break
            durations.append(time.perf_counter() - batch_started)
            print(f"  batch {len(durations)}: {durations[-1]:.2f} s", flush=True)
    finally:
        await database.dispose()
    return Timings(durations), time.perf_counter() - started


_NAIVE_SQL = """
SELECT l.id FROM listings l JOIN categories c ON c.id = l.category_id
WHERE l.status = 'active' AND l.seller_approved AND l.published_at > $1
  AND ($2::uuid IS NULL OR $2 IN (c.id, c.parent_id))
  AND ($3::bigint IS NULL OR l.price_amount >= $3)
  AND ($4::bigint IS NULL OR l.price_amount <= $4)
  AND (cardinality($5::text[]) = 0 OR l.condition = ANY($5))
  AND ($6::uuid IS NULL OR l.seller_id = $6)
  AND (cardinality($7::text[]) = 0 OR to_tsvector('simple', l.title || ' ' || l.description)
       @@ to_tsquery('simple', array_to_string(
            ARRAY(SELECT t || ':*' FROM unnest($7::text[]) t), ' & ')))
"""


async def _run_naive(url: str, sample: list[uuid.UUID]) -> tuple[Timings, int, int]:
    """Each sampled search as one statement over the hour's listings; (timings, pairs found
    by it, of those pairs how many the worker found too)."""
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    durations = []
    found = agreed = 0
    try:
        since = await connection.fetchval("SELECT now() - interval '1 hour' - interval '1 minute'")
        statement = await connection.prepare(_NAIVE_SQL)
        for search_id in sample:
            s = await connection.fetchrow(
                "SELECT category_id, min_price, max_price, conditions::text AS conditions,"
                " seller_id, terms::text AS terms FROM saved_searches WHERE id = $1",
                search_id,
            )
            conditions = _parse(s["conditions"])
            terms = _parse(s["terms"])
            started = time.perf_counter()
            ids = await statement.fetch(
                since,
                s["category_id"],
                s["min_price"],
                s["max_price"],
                conditions,
                s["seller_id"],
                terms,
            )
            durations.append(time.perf_counter() - started)
            mine = {
                row[0]
                for row in await connection.fetch(
                    "SELECT listing_id FROM saved_search_matches WHERE saved_search_id = $1",
                    search_id,
                )
            }
            theirs = {row[0] for row in ids}
            found += len(theirs | mine)
            agreed += len(theirs & mine)
    finally:
        await connection.close()
    return Timings(durations), found, agreed


def _parse(text: str) -> list[str]:
    values: list[str] = json.loads(text)
    return values


async def _counts(url: str) -> tuple[int, int, int]:
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        matches = await connection.fetchval("SELECT count(*) FROM saved_search_matches")
        events = await connection.fetchval(
            "SELECT count(*) FROM outbox_events WHERE type = 'saved_search.matched'"
        )
        searches = await connection.fetchval(
            "SELECT count(DISTINCT saved_search_id) FROM saved_search_matches"
        )
        return int(matches), int(events), int(searches)
    finally:
        await connection.close()


async def _drop(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url, "postgres"), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await connection.close()


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return [line(header), "-+-".join("-" * w for w in widths), *(line(r) for r in rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--listings", type=int, default=100_000, help="background catalogue")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--saved-searches", type=int, default=100_000)
    parser.add_argument("--new-listings", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=1_000, help="naive searches timed")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url: str = args.database_url
    print(f"creating {database_name(url)}", flush=True)
    asyncio.run(recreate_database(url))
    try:
        migrate(bench_settings(url))
        asyncio.run(load_data(url, args.listings))
        loaded = time.perf_counter()
        search_ids, new = asyncio.run(_fill(url, args))
        print(f"  saved searches and new listings in {time.perf_counter() - loaded:.0f} s")
        worker, total = asyncio.run(_run_worker(url))
        matches, events, searches = asyncio.run(_counts(url))
        sample = random.Random(7).sample(search_ids, min(args.sample, len(search_ids)))
        naive, found, agreed = asyncio.run(_run_naive(url, sample))
    finally:
        if not args.keep:
            asyncio.run(_drop(url))
    naive_total = sum(naive.seconds) / len(naive.seconds) * len(search_ids)
    header = ("approach", "units", "p50 ms", "p95 ms", "p99 ms", "total s", "listings/s")
    rows = [
        (
            "worker: match_saved_searches (per batch of 500)",
            f"{len(worker.seconds)} batches",
            *(f"{worker.percentile(p):.1f}" for p in (50, 95, 99)),
            f"{total:.2f}",
            f"{new / total:,.0f}",
        ),
        (
            "naive: one SQL search per saved search",
            f"{len(naive.seconds)} of {len(search_ids):,}",
            *(f"{naive.percentile(p):.1f}" for p in (50, 95, 99)),
            f"{naive_total:.1f} (est.)",
            f"{new / naive_total:,.0f}",
        ),
    ]
    out = [
        f"saved-search benchmark: {len(search_ids):,} saved searches, {new:,} listings gone "
        f"live in the last hour, {args.listings:,} listings before them; "
        f"{os.cpu_count()} CPUs (load average {' / '.join(f'{v:.1f}' for v in os.getloadavg())})",
        f"code: {code_version()}",
        *_table(header, rows),
        "",
        f"worker found {matches:,} matches for {searches:,} saved searches, wrote {events:,} "
        f"instant notices (the rest wait for digests); a run per hour of listings takes "
        f"{total:.1f} s, {statistics.mean(worker.seconds) * 1000:.0f} ms a batch on average",
        f"sample check: the naive statements and the worker agree on {agreed:,} of {found:,} "
        "(search, listing) pairs",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
