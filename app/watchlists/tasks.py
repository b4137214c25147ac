"""The watchlists' worker jobs. Each reads the catalogue from a watermark on, in small
batches (one transaction each), never scanning it whole:

- `notify_one_favourites_batch`: favourited listings changed since the watermark (a partial
  index on `listings.updated_at` of favourited ones) → price drops and restocks, told to
  each favouriter once per change.
- `match_one_saved_searches_batch`: listings gone live since the watermark → candidate saved
  searches through their index keys → the full filters checked in memory → instant notices,
  or matches kept for the daily digest.
- `send_one_digest_batch`: daily searches whose digest is due, with their collected matches.

A watermark trails the clock by SETTLE: a change stamped at time T by a transaction that
commits a little later is still read, since the watermark reaches T only SETTLE after it."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import category_service
from app.catalog import service as catalog_service
from app.catalog.category_tree import CategoryTreeSnapshot
from app.catalog.models import ListingStatus
from app.core import outbox
from app.core.clock import now
from app.core.ids import uuid7
from app.watchlists.events import WatchlistEventType
from app.watchlists.matching import NewListing, match_batch
from app.watchlists.models import (
    AlertFrequency,
    SavedSearch,
    SavedSearchMatch,
    WatchlistWatermark,
)
from app.watchlists.repository import (
    FavouriteRepository,
    MatchRepository,
    SavedSearchRepository,
    WatermarkRepository,
)
from app.watchlists.service import DIGEST_EVERY

SETTLE = timedelta(seconds=30)
"""How far the watermarks trail the clock (see the module docstring); also the most an
instant notice waits, besides the worker's interval."""
FAVOURITES_JOB = "favourites"
SAVED_SEARCHES_JOB = "saved_searches"
FAVOURITE_BATCH = 200
MATCH_BATCH = 500
DIGEST_BATCH = 50
LISTED = 20
"""Listing ids an instant notice or a digest carries at most (`listing_ids`)."""
_GONE = frozenset({ListingStatus.archived, ListingStatus.removed})
"""Listing states a digest leaves out: gone for good."""
_START = datetime(1970, 1, 1, tzinfo=UTC)
_NO_ID = uuid.UUID(int=0)


async def _claim(session: AsyncSession, job: str) -> WatchlistWatermark | None:
    """The job's watermark, locked; None while another worker runs the job. A job without
    one (an emptied database) starts at the beginning."""
    watermarks = WatermarkRepository(session)
    mark = await watermarks.claim(job)
    if mark is None and not await watermarks.exists(job):
        mark = WatchlistWatermark(job=job, position_at=_START, position_id=_NO_ID)
        try:
            async with session.begin_nested():
                session.add(mark)
        except IntegrityError:
            return None
    return mark


# --- favourites ---------------------------------------------------------------------------------


async def notify_one_favourites_batch(session: AsyncSession) -> bool:
    """One batch of favourited listings changed since the watermark: a price below what a
    favouriter last saw (while for sale) is told and becomes what they saw; a listing without
    stock is remembered as such, and told to be back when it is for sale with stock again.
    False when nothing changed."""
    mark = await _claim(session, FAVOURITES_JOB)
    if mark is None:
        return False
    rows = await catalog_service.favourited_changed(
        session, (mark.position_at, mark.position_id), now() - SETTLE, FAVOURITE_BATCH
    )
    if not rows:
        return False
    by_id = {row.id: row for row in rows}
    emissions: list[outbox.Emission] = []
    changing = await FavouriteRepository(session).to_update(
        prices={row.id: (row.price_amount, row.currency) for row in rows if row.live},
        sold_out=[row.id for row in rows if row.quantity == 0],
        restocked=[row.id for row in rows if row.live and row.quantity > 0],
    )
    for favourite in changing:
        row = by_id[favourite.listing_id]
        base = {
            "recipient_id": favourite.user_id,
            "listing_id": row.id,
            "title": row.title,
        }
        if (
            row.live
            and row.currency == favourite.currency
            and row.price_amount < favourite.price_seen
        ):
            emissions.append(
                outbox.Emission(
                    WatchlistEventType.price_dropped,
                    None,
                    {
                        **base,
                        "amount": {"amount": row.price_amount, "currency": row.currency},
                        "previous_price": {
                            "amount": favourite.price_seen,
                            "currency": favourite.currency,
                        },
                    },
                )
            )
            favourite.price_seen = row.price_amount
        if row.quantity == 0:
            favourite.in_stock_seen = False
        elif row.live and not favourite.in_stock_seen:
            emissions.append(
                outbox.Emission(
                    WatchlistEventType.back_in_stock, None, {**base, "quantity": row.quantity}
                )
            )
            favourite.in_stock_seen = True
    last = rows[-1]
    mark.position_at, mark.position_id = last.updated_at, last.id
    await session.flush()
    await outbox.emit_all(session, emissions)
    return True


# --- saved searches -----------------------------------------------------------------------------


async def match_one_saved_searches_batch(session: AsyncSession) -> bool:
    """One batch of listings gone live since the watermark, matched against the saved
    searches filed under their keys. Each (search, listing) pair is found once; instant
    searches hear of their new matches at once (one notice per search and batch), daily
    ones keep them for their digest. False when no listing went live."""
    mark = await _claim(session, SAVED_SEARCHES_JOB)
    if mark is None:
        return False
    rows = await catalog_service.published_after(
        session, (mark.position_at, mark.position_id), now() - SETTLE, MATCH_BATCH
    )
    if not rows:
        return False
    tree = CategoryTreeSnapshot.build(await category_service.all_categories(session))
    listings = [NewListing.of(row, (c.id for c in tree.path(row.category_id))) for row in rows]
    keys = set().union(*(listing.keys() for listing in listings))
    candidates = await SavedSearchRepository(session).candidates(keys)
    found = match_batch(candidates, listings)
    at = now()
    fresh = await MatchRepository(session).add_new(
        [
            SavedSearchMatch(
                id=uuid7(),
                saved_search_id=search.id,
                listing_id=listing.id,
                matched_at=at,
                notified_at=at if search.frequency is AlertFrequency.instant else None,
            )
            for search, listing in found
        ]
    )
    told: dict[uuid.UUID, list[NewListing]] = defaultdict(list)
    searches: dict[uuid.UUID, SavedSearch] = {}
    for search, listing in found:
        if search.frequency is AlertFrequency.instant and (search.id, listing.id) in fresh:
            told[search.id].append(listing)
            searches[search.id] = search
    last = rows[-1]
    mark.position_at, mark.position_id = last.published_at, last.id
    await session.flush()
    await outbox.emit_all(
        session,
        [
            _search_notice(
                WatchlistEventType.saved_search_matched,
                searches[search_id],
                [(listing.id, listing.title) for listing in reversed(new)],
            )
            for search_id, new in told.items()
        ],
    )
    return True


def _search_notice(
    event_type: WatchlistEventType,
    search: SavedSearch,
    listings: list[tuple[uuid.UUID, str]],
) -> outbox.Emission:
    """A notice of new matches (listing id and title, newest first): one names its
    listing's title, several their number."""
    data: dict[str, object] = {
        "recipient_id": search.user_id,
        "saved_search_id": search.id,
        "name": search.name,
        "listing_id": listings[0][0],
        "listing_ids": [listing_id for listing_id, _ in listings[:LISTED]],
        "match_count": len(listings),
    }
    if len(listings) == 1:
        data["title"] = listings[0][1]
    else:
        data["quantity"] = len(listings)
    return outbox.Emission(event_type, None, data)


async def send_one_digest_batch(session: AsyncSession) -> bool:
    """Digests for a batch of searches whose digest is due and that collected matches: one
    notice each (newest matches first), the matches marked told, the next digest a day
    later (none for a search switched to instant). False when none is due."""
    matches = MatchRepository(session)
    at = now()
    due = await matches.due_digests(at, DIGEST_BATCH)
    if not due:
        return False
    pending = await matches.pending_of([search.id for search in due])
    listing_ids: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for match in pending:
        listing_ids[match.saved_search_id].append(match.listing_id)
    # A listing archived or removed since it matched is left out (its match is told all
    # the same, so it never comes back).
    known = {
        listing.id: listing
        for listing in (
            await catalog_service.many(session, list({m.listing_id for m in pending}))
        ).values()
        if listing.status not in _GONE
    }
    emissions = []
    for search in due:
        newest_first = [
            (listing_id, known[listing_id].title)
            for listing_id in reversed(listing_ids[search.id])
            if listing_id in known
        ]
        if newest_first:
            emissions.append(
                _search_notice(WatchlistEventType.saved_search_digest, search, newest_first)
            )
        daily = search.frequency is AlertFrequency.daily
        search.digest_due_at = at + DIGEST_EVERY if daily else None
    await matches.mark_notified([match.id for match in pending], at)
    await session.flush()
    await outbox.emit_all(session, emissions)
    return True


async def purge_told_matches(session: AsyncSession, retention: timedelta) -> int:
    """Matches told longer than `retention` ago go: they only kept a (search, listing) pair
    from being told twice, and the watermark passed their listings long before. How many."""
    return await MatchRepository(session).delete_told_before(now() - retention)
