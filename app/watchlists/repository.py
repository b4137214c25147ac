import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.core.repository import RepositoryBase
from app.watchlists.models import (
    Favourite,
    SavedSearch,
    SavedSearchKey,
    SavedSearchMatch,
    WatchlistWatermark,
)

_CHUNK = 5000
"""Bound parameters per statement at most (asyncpg takes 32,767)."""
_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class FavouriteRepository(RepositoryBase[Favourite]):
    model = Favourite

    def of_user(self, user_id: uuid.UUID) -> Select[Favourite]:
        return select(Favourite).where(Favourite.user_id == user_id)

    async def get_of_user(
        self, user_id: uuid.UUID, listing_id: uuid.UUID, *, lock: bool = False
    ) -> Favourite | None:
        statement = self.of_user(user_id).where(Favourite.listing_id == listing_id)
        return await self.get_one_or_none(statement.with_for_update() if lock else statement)

    async def count_of_user(self, user_id: uuid.UUID) -> int:
        statement = select(func.count()).select_from(Favourite).where(Favourite.user_id == user_id)
        return int(await self.session.scalar(statement) or 0)

    async def to_update(
        self,
        *,
        prices: Mapping[uuid.UUID, tuple[int, str]],
        sold_out: Collection[uuid.UUID],
        restocked: Collection[uuid.UUID],
    ) -> list[Favourite]:
        """The favourites of changed listings that the worker has something to do with,
        locked (it updates what it told), and no others: of a live listing (`prices`: its
        price and currency) whose price is below what they saw; of a listing without stock
        (`sold_out`) seen in stock; of a live listing with stock (`restocked`) seen without.
        Most favourites of a changed listing need nothing, and are neither read nor
        locked."""
        wanted: list[ColumnElement[bool]] = []
        if sold_out:
            wanted.append(and_(Favourite.listing_id.in_(sold_out), Favourite.in_stock_seen))
        if restocked:
            wanted.append(and_(Favourite.listing_id.in_(restocked), not_(Favourite.in_stock_seen)))
        if prices:
            price = {listing_id: amount for listing_id, (amount, _) in prices.items()}
            currency = {listing_id: code for listing_id, (_, code) in prices.items()}
            wanted.append(
                and_(
                    Favourite.listing_id.in_(list(prices)),
                    Favourite.price_seen > case(price, value=Favourite.listing_id),
                    Favourite.currency == case(currency, value=Favourite.listing_id),
                )
            )
        if not wanted:
            return []
        statement = (
            select(Favourite)
            .where(or_(*wanted))
            .order_by(Favourite.listing_id, Favourite.id)
            .with_for_update()
        )
        return list(await self.session.scalars(statement))

    async def delete_of_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Deletes the person's favourites; the listings they were of."""
        statement = delete(Favourite).where(Favourite.user_id == user_id)
        result = await self.session.execute(statement.returning(Favourite.listing_id))
        return list(result.scalars())


class SavedSearchRepository(RepositoryBase[SavedSearch]):
    model = SavedSearch

    def of_user(self, user_id: uuid.UUID) -> Select[SavedSearch]:
        return select(SavedSearch).where(SavedSearch.user_id == user_id)

    async def get_of_user(
        self, user_id: uuid.UUID, saved_search_id: uuid.UUID, *, lock: bool = False
    ) -> SavedSearch | None:
        statement = self.of_user(user_id).where(SavedSearch.id == saved_search_id)
        return await self.get_one_or_none(statement.with_for_update() if lock else statement)

    async def count_of_user(self, user_id: uuid.UUID) -> int:
        statement = (
            select(func.count()).select_from(SavedSearch).where(SavedSearch.user_id == user_id)
        )
        return int(await self.session.scalar(statement) or 0)

    async def set_key(self, saved_search_id: uuid.UUID, key: str) -> None:
        await self.session.execute(
            delete(SavedSearchKey).where(SavedSearchKey.saved_search_id == saved_search_id)
        )
        self.session.add(SavedSearchKey(saved_search_id=saved_search_id, key=key))
        await self.session.flush()

    async def candidates(self, keys: Collection[str]) -> list[SavedSearch]:
        """The saved searches indexed under any of `keys` (indexed lookups, in chunks: a
        batch of listings has tens of thousands of word prefixes)."""
        found: list[SavedSearch] = []
        ordered = sorted(keys)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            statement = select(SavedSearch).where(
                SavedSearch.id.in_(
                    select(SavedSearchKey.saved_search_id).where(SavedSearchKey.key.in_(chunk))
                )
            )
            found.extend(await self.session.scalars(statement))
        return found

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(SavedSearch).where(SavedSearch.user_id == user_id))


class MatchRepository(RepositoryBase[SavedSearchMatch]):
    model = SavedSearchMatch

    async def delete_told_before(self, moment: datetime) -> int:
        """Drops the matches told before `moment`; how many."""
        result = await self.session.execute(
            delete(SavedSearchMatch).where(SavedSearchMatch.notified_at < moment)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def add_new(
        self, matches: Sequence[SavedSearchMatch]
    ) -> set[tuple[uuid.UUID, uuid.UUID]]:
        """Inserts the matches not found before (one per search and listing: a duplicate is
        skipped by the unique constraint, so overlapping runs never tell twice); the
        (saved search, listing) pairs that were new."""
        insert = _INSERTS[self.session.get_bind().dialect.name]
        new: set[tuple[uuid.UUID, uuid.UUID]] = set()
        rows = [
            {
                "id": m.id,
                "saved_search_id": m.saved_search_id,
                "listing_id": m.listing_id,
                "matched_at": m.matched_at,
                "notified_at": m.notified_at,
            }
            for m in matches
        ]
        for start in range(0, len(rows), _CHUNK // 5):
            statement = (
                insert(SavedSearchMatch)
                .values(rows[start : start + _CHUNK // 5])
                .on_conflict_do_nothing(index_elements=["saved_search_id", "listing_id"])
                .returning(SavedSearchMatch.saved_search_id, SavedSearchMatch.listing_id)
            )
            new.update((row[0], row[1]) for row in (await self.session.execute(statement)).all())
        return new

    async def due_digests(self, at: datetime, limit: int) -> list[SavedSearch]:
        """Searches whose digest is due and that have matches not yet told, locked (skipping
        those another worker holds): daily ones, and ones switched to instant since they
        collected matches (their last digest)."""
        pending = select(SavedSearchMatch.id).where(
            SavedSearchMatch.saved_search_id == SavedSearch.id,
            SavedSearchMatch.notified_at.is_(None),
        )
        statement = (
            select(SavedSearch)
            .where(
                SavedSearch.digest_due_at <= at,
                pending.exists(),
            )
            .order_by(SavedSearch.digest_due_at, SavedSearch.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(await self.session.scalars(statement))

    async def pending_of(self, saved_search_ids: Sequence[uuid.UUID]) -> list[SavedSearchMatch]:
        statement = (
            select(SavedSearchMatch)
            .where(
                SavedSearchMatch.saved_search_id.in_(saved_search_ids),
                SavedSearchMatch.notified_at.is_(None),
            )
            .order_by(SavedSearchMatch.saved_search_id, SavedSearchMatch.id)
        )
        return list(await self.session.scalars(statement))

    async def mark_notified(self, match_ids: Sequence[uuid.UUID], at: datetime) -> None:
        await self.session.execute(
            update(SavedSearchMatch)
            .where(SavedSearchMatch.id.in_(match_ids))
            .values(notified_at=at)
            .execution_options(synchronize_session=False)
        )


class WatermarkRepository(RepositoryBase[WatchlistWatermark]):
    model = WatchlistWatermark

    async def claim(self, job: str) -> WatchlistWatermark | None:
        """The job's watermark, locked for this transaction; None when another worker holds
        it (it is running the job now) — or when the job has none yet (see `start`)."""
        statement = (
            select(WatchlistWatermark)
            .where(WatchlistWatermark.job == job)
            .with_for_update(skip_locked=True)
        )
        return await self.get_one_or_none(statement)

    async def exists(self, job: str) -> bool:
        statement = select(WatchlistWatermark.job).where(WatchlistWatermark.job == job)
        return (await self.session.scalar(statement)) is not None
