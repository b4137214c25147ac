import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache, reduce
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.types import JSON, Float

from app.auth.principal import Principal
from app.catalog.models import (
    Category,
    Condition,
    Listing,
    ListingImage,
    ListingReport,
    ListingStatus,
    ReportStatus,
)
from app.catalog.schemas import SearchSort
from app.core.pagination import SortKey
from app.core.repository import RepositoryBase
from app.sellers.models import SellerProfile

# States a listing is in before it was ever public: only its shop and admins may read it.
NEVER_PUBLIC = (ListingStatus.draft, ListingStatus.pending_review, ListingStatus.rejected)
# Relevance ranks at most this many of the newest matches (see _rank_newest_matches).
MAX_RANKED_MATCHES = 200
# Text search keeps at most this many words; each is matched as a prefix ("iph" → "iPhone").
MAX_SEARCH_TERMS = 8
_WORD = re.compile(r"\w+", re.UNICODE)
# Search builds Core statements over the tables, not over the ORM attributes: a statement is
# built and run on every search, and ORM-annotated expressions cost more Python time to build
# and execute (about 0.15 ms a search). Rows come back plain either way.
_listing = Listing.__table__.c
_image = ListingImage.__table__.c
_shop = SellerProfile.__table__
# LIVE_LISTING_PREDICATE in column form, with the state as an SQL literal: PostgreSQL proves
# that a query may use a partial index only from literals, never from bound parameters.
_LIVE = and_(
    _listing.status == literal_column(f"'{ListingStatus.active.value}'"), _listing.seller_approved
)
# The states as literals too: the statement's text is then the same for every caller.
_HAS_BEEN_PUBLIC = _listing.status.not_in(
    [literal_column(f"'{status.value}'") for status in NEVER_PUBLIC]
)


# What a public search result shows of a listing (see service.search): read as plain rows,
# not ORM objects, since a page is built on every search and never changed.
CARD_COLUMNS = (
    _listing.id,
    _listing.seller_id,
    _listing.category_id,
    _listing.title,
    _listing.description,
    _listing.price_amount,
    _listing.currency,
    _listing.shipping_fee_amount,
    _listing.quantity,
    _listing.condition,
    _listing.attributes,
    _listing.handling_days,
    _listing.accepts_offers,
    _listing.status,
    _listing.published_at,
    _listing.created_at,
    _listing.updated_at,
)

# A card's images as one JSON array of CardImage fields (built once: searches reuse it).
_CARD_IMAGE_PAIRS = [
    part
    for column in (
        _image.id,
        _image.storage_key,
        _image.content_type,
        _image.size_bytes,
        _image.position,
        _image.alt_text,
        _image.width,
        _image.height,
        _image.thumbnail_key,
        _image.medium_key,
    )
    for part in (literal_column(f"'{column.key}'"), column)
]
_CARD_IMAGES_PG = func.json_agg(func.json_build_object(*_CARD_IMAGE_PAIRS), type_=JSON)
_CARD_IMAGES_SQLITE = func.json_group_array(func.json_object(*_CARD_IMAGE_PAIRS), type_=JSON)

_ENGLISH: ColumnElement[Any] = literal_column("'english'::regconfig")
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")


def search_terms(query: str) -> list[str]:
    """Words of a free-text query; only letters and digits survive, so nothing a user types
    can become tsquery syntax."""
    return _WORD.findall(query.lower())[:MAX_SEARCH_TERMS]


class CategoryRepository(RepositoryBase[Category]):
    model = Category

    async def all(self) -> Sequence[Category]:
        statement = select(Category).order_by(Category.position, Category.name, Category.id)
        return (await self.session.scalars(statement)).all()

    async def get_by_slug(self, slug: str) -> Category | None:
        return await self.get_one_or_none(select(Category).where(Category.slug == slug))

    async def has_children(self, category_id: uuid.UUID) -> bool:
        statement = select(Category.id).where(Category.parent_id == category_id).limit(1)
        return (await self.session.scalar(statement)) is not None

    async def has_listings(self, category_id: uuid.UUID) -> bool:
        statement = select(Listing.id).where(Listing.category_id == category_id).limit(1)
        return (await self.session.scalar(statement)) is not None


class CardImage(NamedTuple):
    """An image as a search row's `images` JSON holds it."""

    id: uuid.UUID
    storage_key: str
    content_type: str
    size_bytes: int
    position: int
    alt_text: str
    width: int | None
    height: int | None
    thumbnail_key: str | None
    medium_key: str | None

    @classmethod
    def from_json(cls, image: dict[str, Any]) -> "CardImage":
        return cls(**{**image, "id": uuid.UUID(str(image["id"]))})


@dataclass(frozen=True, slots=True)
class SearchFilters:
    q: str | None = None
    category_ids: Sequence[uuid.UUID] | None = None
    """A category subtree (None: any category)."""
    min_price: int | None = None
    max_price: int | None = None
    conditions: Sequence[Condition] = ()
    seller_id: uuid.UUID | None = None


class ListingRepository(RepositoryBase[Listing]):
    model = Listing

    def with_details(self, statement: Select[Listing]) -> Select[Listing]:
        return statement.options(joinedload(Listing.seller), selectinload(Listing.images))

    async def get_detailed(
        self,
        listing_id: uuid.UUID,
        *,
        within: Select[Listing] | None = None,
        lock: bool = False,
    ) -> Listing | None:
        """The listing with its shop and images, if `within` (a scope such as `visible_to`;
        default: every listing) holds it. `lock` holds its row for the rest of the
        transaction."""
        scope = within if within is not None else select(Listing)
        statement = self.with_details(scope.where(Listing.id == listing_id))
        if lock:
            # Only the listing's row: its shop is joined in, and is not this lock's business.
            statement = statement.with_for_update(of=Listing)
        return await self.get_one_or_none(statement.execution_options(populate_existing=True))

    def live(self) -> Select[Listing]:
        """What the public may see: active listings of approved sellers."""
        return select(Listing).where(_LIVE)

    def visible_to(self, principal: Principal | None) -> Select[Listing]:
        """What the caller may see as a live listing: live listings, and every listing of
        their own shop; an admin sees them all."""
        if principal is not None and principal.is_admin:
            return select(Listing)
        if principal is None or principal.shop_id is None:
            return self.live()
        return select(Listing).where(or_(_LIVE, Listing.seller_id == principal.shop_id))

    async def get_page(self, listing_id: uuid.UUID, principal: Principal | None) -> Row[Any] | None:
        """A listing's page, if the caller may read it (see `_readable`), as one plain row:
        every stored column of the listing (its entity tag covers them all), its shop's name,
        slug and state (`shop_status`) and its images (`images`, as a search card has them).
        One Core statement, not ORM objects: the page is read far more often than anything
        else, and the ORM's joined and select-in loads cost a second statement and more
        Python than the query itself."""
        parameters: dict[str, Any] = {"listing_id": listing_id}
        if principal is not None and principal.is_admin:
            scope = _Readable.all
        elif principal is None or principal.shop_id is None:
            scope = _Readable.has_been_public
        else:
            scope = _Readable.has_been_public_or_own
            parameters["shop_id"] = principal.shop_id
        statement = _page_statement(self._on_postgresql(), scope)
        page: Row[Any] | None = (await self.session.execute(statement, parameters)).one_or_none()
        return page

    def of_shop(self, principal: Principal) -> Select[Listing]:
        """The listings of the caller's own shop (none without one)."""
        if principal.shop_id is None:
            return select(Listing).where(false())
        return select(Listing).where(Listing.seller_id == principal.shop_id)

    def of_seller(
        self, seller_id: uuid.UUID, status: ListingStatus | None, title: str | None = None
    ) -> Select[Listing]:
        statement = select(Listing).where(Listing.seller_id == seller_id)
        if status is not None:
            statement = statement.where(Listing.status == status)
        if title:
            statement = statement.where(
                func.lower(Listing.title).contains(title.lower(), autoescape=True)
            )
        return statement

    async def count_by_status(
        self, seller_id: uuid.UUID, title: str | None
    ) -> dict[ListingStatus, int]:
        """A shop's listings per state (its (seller_id, status) index serves it)."""
        matching = self.of_seller(seller_id, None, title).subquery()
        statement = select(matching.c.status, func.count()).group_by(matching.c.status)
        return {
            ListingStatus(status): int(count)
            for status, count in (await self.session.execute(statement)).all()
        }

    def moderation_queue(self, *, status: ListingStatus | None, reported: bool) -> Select[Listing]:
        statement = select(Listing)
        if status is not None:
            statement = statement.where(Listing.status == status)
        if reported:
            statement = statement.where(Listing.report_count > 0)
        return statement

    async def release_shipping_profile(
        self, profile_id: uuid.UUID, final: Sequence[ListingStatus]
    ) -> int:
        """Listings in a `final` state let go of the shipping profile (they go back to their
        flat fee); how many in any other state still point to it."""
        await self.session.execute(
            update(Listing)
            .where(Listing.shipping_profile_id == profile_id, Listing.status.in_(final))
            .values(shipping_profile_id=None)
            .execution_options(synchronize_session=False)
        )
        statement = (
            select(func.count())
            .select_from(Listing)
            .where(Listing.shipping_profile_id == profile_id)
        )
        return int(await self.session.scalar(statement) or 0)

    async def count_live_of_seller(self, seller_id: uuid.UUID) -> int:
        statement = (
            select(func.count()).select_from(Listing).where(_LIVE, Listing.seller_id == seller_id)
        )
        return int(await self.session.scalar(statement) or 0)

    async def set_seller_approved(self, seller_id: uuid.UUID, approved: bool) -> None:
        await self.session.execute(
            update(Listing)
            .where(Listing.seller_id == seller_id)
            .values(seller_approved=approved)
            .execution_options(synchronize_session="fetch")
        )

    async def archive_all_of_seller(self, seller_id: uuid.UUID, *, reason: str) -> None:
        final = (ListingStatus.archived, ListingStatus.removed)
        await self.session.execute(
            update(Listing)
            .where(Listing.seller_id == seller_id, Listing.status.not_in(final))
            .values(status=ListingStatus.archived, status_reason=reason)
            .execution_options(synchronize_session="fetch")
        )

    async def lock_many(self, listing_ids: list[uuid.UUID]) -> list[Listing]:
        """The listings, row-locked in id order (the order every buyer locks them in) and
        without their relations. FOR NO KEY UPDATE, the lock an update of their stock takes
        anyway: rows referring to them (cart items, order lines) can still be written."""
        statement = (
            select(Listing)
            .where(Listing.id.in_(listing_ids))
            .order_by(Listing.id)
            .with_for_update(of=Listing, key_share=True)
            .execution_options(populate_existing=True)
        )
        return list((await self.session.scalars(statement)).all())

    async def return_stock(self, listing_id: uuid.UUID, quantity: int) -> None:
        await self.session.execute(
            update(Listing)
            .where(Listing.id == listing_id)
            .values(quantity=Listing.quantity + quantity)
            .execution_options(synchronize_session=False)
        )

    async def count_report(self, listing_id: uuid.UUID) -> None:
        """Atomic increment: concurrent reports never lose a count."""
        await self.session.execute(
            update(Listing)
            .where(Listing.id == listing_id)
            .values(report_count=Listing.report_count + 1)
            .execution_options(synchronize_session=False)
        )

    async def adjust_favourite_count(self, listing_id: uuid.UUID, delta: int) -> None:
        """Atomic, like `count_report`. `updated_at` stays: being favourited is no change of
        the listing (and would wake the favourites worker for nothing)."""
        await self.session.execute(
            update(Listing)
            .where(Listing.id == listing_id)
            .values(favourite_count=Listing.favourite_count + delta, updated_at=Listing.updated_at)
            .execution_options(synchronize_session=False)
        )

    async def adjust_favourite_counts(self, listing_ids: Collection[uuid.UUID], delta: int) -> None:
        """`adjust_favourite_count` for many listings (distinct ids) in one UPDATE."""
        await self.session.execute(
            update(Listing)
            .where(Listing.id.in_(listing_ids))
            .values(favourite_count=Listing.favourite_count + delta, updated_at=Listing.updated_at)
            .execution_options(synchronize_session=False)
        )

    async def favourited_changed(
        self, after: tuple[datetime, uuid.UUID], until: datetime, limit: int
    ) -> list[Row[Any]]:
        """Favourited listings changed after `after` (updated_at, id) and at or before
        `until`, in that order (the partial index ix_listings_favourited_updated): their
        price, stock and whether they are live (`live`)."""
        statement: Select[Any] = (
            select(
                _listing.id,
                _listing.seller_id,
                _listing.title,
                _listing.price_amount,
                _listing.currency,
                _listing.quantity,
                _listing.updated_at,
                _LIVE.label("live"),
            )
            .where(
                # A literal, so that PostgreSQL may use the partial index.
                _listing.favourite_count > literal_column("0"),
                tuple_(_listing.updated_at, _listing.id) > tuple_(*map(literal, after)),
                _listing.updated_at <= until,
            )
            .order_by(_listing.updated_at, _listing.id)
            .limit(limit)
        )
        return list((await self.session.execute(statement)).all())

    async def published_after(
        self, after: tuple[datetime, uuid.UUID], until: datetime, limit: int
    ) -> list[Row[Any]]:
        """Live listings that went live after `after` (published_at, id) and at or before
        `until`, in that order (the partial index ix_listings_live_published), with what a
        search filters on."""
        statement: Select[Any] = (
            select(
                _listing.id,
                _listing.seller_id,
                _listing.category_id,
                _listing.title,
                _listing.description,
                _listing.price_amount,
                _listing.currency,
                _listing.condition,
                _listing.published_at,
            )
            .where(
                _LIVE,
                tuple_(_listing.published_at, _listing.id) > tuple_(*map(literal, after)),
                _listing.published_at <= until,
            )
            .order_by(_listing.published_at, _listing.id)
            .limit(limit)
        )
        return list((await self.session.execute(statement)).all())

    def search(self, filters: SearchFilters, sort: SearchSort) -> tuple[Select[Any], list[SortKey]]:
        """The search statement (CARD_COLUMNS, then the shop's name and slug and the images,
        see _with_card_extras) and its keyset, built so that PostgreSQL serves each filter and
        sort from a partial index on live listings (see Listing.__table_args__)."""
        conditions, rank = self._conditions(filters)
        statement: Select[Any] = select(*CARD_COLUMNS).where(_LIVE, *conditions)
        if sort is SearchSort.relevance and rank is not None:
            return self._rank_newest_matches(statement, rank)
        card = _with_card_extras(statement, _listing.id, _listing.seller_id, self._on_postgresql())
        return card, _search_keys(sort, rank)

    def count_matches(self, filters: SearchFilters, sort: SearchSort, cap: int) -> Select[Any]:
        """How many live listings match, counted up to `cap` + 1 (more than `cap`: "cap+").
        The matches are read in the order of the search's own sort, so the count walks the
        index the page itself uses and stops after `cap` + 1 rows, however many match."""
        return select(func.count()).select_from(self._capped(_listing.id, filters, sort, cap))

    def facet_counts(
        self, key: ColumnElement[Any], filters: SearchFilters, sort: SearchSort, cap: int
    ) -> Select[Any]:
        """(key, count) over the first `cap` + 1 matches, read as `count_matches` reads
        them."""
        matches = self._capped(key.label("key"), filters, sort, cap)
        return select(matches.c.key, func.count()).group_by(matches.c.key)

    def _capped(
        self, column: ColumnElement[Any], filters: SearchFilters, sort: SearchSort, cap: int
    ) -> Any:
        conditions, _rank = self._conditions(filters)
        keys = _search_keys(SearchSort.newest if sort is SearchSort.relevance else sort, None)
        order = [key.expression.desc() if key.descending else key.expression.asc() for key in keys]
        return (
            select(column)
            .where(_LIVE, *conditions)
            .order_by(*order)
            .limit(cap + 1)
            .subquery("capped_matches")
        )

    def _conditions(
        self, filters: SearchFilters
    ) -> tuple[list[ColumnElement[bool]], ColumnElement[Any] | None]:
        """The WHERE clauses of `filters` (besides _LIVE) and, for words on PostgreSQL,
        their rank."""
        conditions: list[ColumnElement[bool]] = []
        terms = search_terms(filters.q or "")
        rank: ColumnElement[Any] | None = None
        if terms:
            conditions, rank = self._match(terms)
        if filters.category_ids is not None:
            # A list of known ids, not a subquery: the planner then estimates the share of
            # listings in those categories and can choose the (category_id, …) indexes.
            conditions.append(_listing.category_id.in_(filters.category_ids))
        if filters.min_price is not None:
            conditions.append(_listing.price_amount >= filters.min_price)
        if filters.max_price is not None:
            conditions.append(_listing.price_amount <= filters.max_price)
        if filters.conditions:
            conditions.append(_listing.condition.in_(filters.conditions))
        if filters.seller_id is not None:
            conditions.append(_listing.seller_id == filters.seller_id)
        return conditions, rank

    def _rank_newest_matches(
        self, statement: Select[Any], rank: ColumnElement[Any]
    ) -> tuple[Select[Any], list[SortKey]]:
        """Relevance ranks the newest MAX_RANKED_MATCHES matches, not every match: a common
        word can match a large share of a million listings, and ranking them all would cost a
        full scan per page. The newest matches come straight off an index (or a bitmap of the
        GIN index for rare words), so the cost stays flat as the catalog grows."""
        newest = (
            statement.add_columns(rank.label("rank"))
            .order_by(_listing.published_at.desc(), _listing.id.desc())
            .limit(MAX_RANKED_MATCHES)
            .subquery("newest_matches")
        )
        ranked = _with_card_extras(
            select(*(newest.c[column.key] for column in CARD_COLUMNS)),
            newest.c.id,
            newest.c.seller_id,
            self._on_postgresql(),
        )
        keys = [SortKey(newest.c.rank, descending=True), SortKey(newest.c.id, descending=True)]
        return ranked, keys

    def _on_postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _match(
        self, terms: list[str]
    ) -> tuple[list[ColumnElement[bool]], ColumnElement[Any] | None]:
        if self._on_postgresql():
            query = reduce(lambda all_of, one: all_of.op("&&")(one), map(_prefix_query, terms))
            vector: ColumnElement[Any] = literal_column("listings.search_vector")
            return [vector.op("@@")(query)], func.ts_rank_cd(vector, query, type_=Float)
        # SQLite fallback: every word must appear in the title or description.
        haystack = func.lower(_listing.title + " " + _listing.description)
        return [haystack.contains(term, autoescape=True) for term in terms], None


def _with_card_extras(
    statement: Select[Any],
    listing_id: ColumnElement[Any],
    seller_id: ColumnElement[Any],
    postgresql: bool,
) -> Select[Any]:
    """A search statement (or a listing's page) with what else a result card shows: the
    shop's name and slug (one join) and the listing's images as one JSON array (`images`:
    CardImage fields, in no particular order, null when there are none). One statement for
    the whole page: an images query of its own cost a round trip and its own execution on
    every search."""
    images = _CARD_IMAGES_PG if postgresql else _CARD_IMAGES_SQLITE
    images_of_listing = (
        select(images).where(_image.listing_id == listing_id).scalar_subquery().label("images")
    )
    return statement.add_columns(_shop.c.shop_name, _shop.c.slug, images_of_listing).join(
        _shop, _shop.c.id == seller_id
    )


class _Readable(Enum):
    """Which listings a caller may read: an admin all of them; anybody else every listing
    that has been public (whether or not it is for sale now), and a seller also every
    listing of their own shop (`shop_id`)."""

    all = "all"
    has_been_public = "has_been_public"
    has_been_public_or_own = "has_been_public_or_own"


@cache
def _page_statement(postgresql: bool, scope: _Readable) -> Select[Any]:
    """ListingRepository.get_page's statement, built once per scope with the ids as bound
    parameters (`listing_id`, `shop_id`): building it and computing its cache key on every
    read cost more Python than the rest of the read."""
    readable: ColumnElement[bool] = true()
    if scope is _Readable.has_been_public:
        readable = _HAS_BEEN_PUBLIC
    elif scope is _Readable.has_been_public_or_own:
        own = _listing.seller_id == bindparam("shop_id", type_=_listing.seller_id.type)
        readable = or_(_HAS_BEEN_PUBLIC, own)
    statement = select(*_listing, _shop.c.status.label("shop_status")).where(
        _listing.id == bindparam("listing_id", type_=_listing.id.type), readable
    )
    return _with_card_extras(statement, _listing.id, _listing.seller_id, postgresql)


def _prefix_query(term: str) -> ColumnElement[Any]:
    """One word as a prefix. The english stem's prefix also matches the word as typed, since
    search_vector holds both the stemmed (english) and the unstemmed (simple) words; a single
    configuration keeps the planner's match estimate right (an OR of both overestimated it
    threefold and led it off the GIN index). A stop word has no english stem and falls back
    to the simple configuration, so "the who" still finds "The Who"."""
    prefix = literal(f"{term}:*")
    english = func.to_tsquery(_ENGLISH, prefix)
    return case((func.numnode(english) == 0, func.to_tsquery(_SIMPLE, prefix)), else_=english)


def _search_keys(sort: SearchSort, rank: ColumnElement[Any] | None) -> list[SortKey]:
    if sort is SearchSort.price_asc:
        return [SortKey(_listing.price_amount), SortKey(_listing.id)]
    if sort is SearchSort.price_desc:
        return [
            SortKey(_listing.price_amount, descending=True),
            SortKey(_listing.id, descending=True),
        ]
    if sort is SearchSort.relevance and rank is not None:
        return [SortKey(rank, descending=True), SortKey(_listing.id, descending=True)]
    return [SortKey(_listing.published_at, descending=True), SortKey(_listing.id, descending=True)]


class ReportRepository(RepositoryBase[ListingReport]):
    model = ListingReport

    def of_listing(self, listing_id: uuid.UUID) -> Select[ListingReport]:
        return select(ListingReport).where(ListingReport.listing_id == listing_id)

    async def open_of_listing(
        self, listing_id: uuid.UUID, report_ids: Sequence[uuid.UUID] | None
    ) -> list[ListingReport]:
        """The listing's open reports (only those of `report_ids`, when given), oldest first."""
        statement = self.of_listing(listing_id).where(ListingReport.status == ReportStatus.open)
        if report_ids is not None:
            statement = statement.where(ListingReport.id.in_(report_ids))
        return list(await self.session.scalars(statement.order_by(ListingReport.id)))

    async def uncount(self, listing_id: uuid.UUID, dismissed: int) -> None:
        """Dismissed reports stop counting (the reported queue is what still needs a look)."""
        await self.session.execute(
            update(Listing)
            .where(Listing.id == listing_id)
            .values(report_count=Listing.report_count - dismissed)
            .execution_options(synchronize_session=False)
        )
