"""Saved searches against new listings, inverted: rather than run each search over the
catalogue, each new listing names the index keys it can be found by (every prefix of its
words up to KEY_LENGTH letters, its category and the category's ancestors, its shop), the
searches filed under those keys are the only candidates (see SavedSearchKey), and each
candidate's full filters are then checked here, in memory.

Words match as `GET /v1/listings?q=` matches them on PostgreSQL as typed: each word of the
search must be the start of a word of the title or description (lower case, letters and
digits only). The catalogue's PostgreSQL search also matches English stems ("running" finds
"runs"), which a saved search does not; SQLite's fallback search matches anywhere inside
words, which a saved search does not either."""

import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from app.watchlists.models import SavedSearch

KEY_LENGTH = 100
"""A word is indexed by at most its first KEY_LENGTH letters (the full check follows)."""
TERM_LENGTH = 200
"""The longest word a saved search can have (its `query` is at most 200 characters): a
listing's words are kept up to that length, which decides whether a term starts them."""
WORDS_PER_LISTING = 2000
"""Distinct words of a listing considered at most, title first (a description of 10,000
characters has fewer than 5,000 anyway; this bounds the matcher's memory per listing)."""
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class NewListing:
    """A newly live listing as the matcher reads it."""

    id: uuid.UUID
    seller_id: uuid.UUID
    category_id: uuid.UUID
    title: str
    price_amount: int
    condition: str
    words: tuple[str, ...]
    """The distinct words of its title then description (at most WORDS_PER_LISTING), each
    cut to TERM_LENGTH letters."""
    prefixes: frozenset[str]
    """Every prefix of those words up to KEY_LENGTH letters (its index keys' words)."""
    categories: frozenset[uuid.UUID]
    """Its category and the category's ancestors."""

    @classmethod
    def of(cls, row: Any, categories: Iterable[uuid.UUID]) -> "NewListing":
        """From a row of catalog.service.published_after, with its category path."""
        distinct: dict[str, None] = {}
        for found in _WORD.finditer(f"{row.title} {row.description}".lower()):
            distinct[found.group()[:TERM_LENGTH]] = None
            if len(distinct) >= WORDS_PER_LISTING:
                break
        words = tuple(distinct)
        prefixes = frozenset(
            word[:end] for word in words for end in range(1, min(len(word), KEY_LENGTH) + 1)
        )
        return cls(
            id=row.id,
            seller_id=row.seller_id,
            category_id=row.category_id,
            title=row.title,
            price_amount=row.price_amount,
            condition=str(row.condition),
            words=words,
            prefixes=prefixes,
            categories=frozenset(categories) or frozenset({row.category_id}),
        )

    def keys(self) -> set[str]:
        """The index keys a search that may match this listing is filed under."""
        found = {"t:" + prefix for prefix in self.prefixes}
        found.update(f"c:{category}" for category in self.categories)
        found.add(f"s:{self.seller_id}")
        return found

    def has_word_starting(self, term: str) -> bool:
        """Whether a word of the listing starts with `term`."""
        if len(term) <= KEY_LENGTH:
            return term in self.prefixes
        return any(word.startswith(term) for word in self.words)


def index_key(terms: Collection[str], category_id: uuid.UUID | None, seller_id: Any) -> str:
    """The one key a search is filed under: its most selective word as far as can be told
    without statistics — one with digits (a model or part number) before one without, then
    the longest — else its category, else its shop (a search names at least one of them)."""
    if terms:
        best = max(terms, key=lambda term: (any(c.isdigit() for c in term), len(term)))
        return "t:" + best[:KEY_LENGTH]
    if category_id is not None:
        return f"c:{category_id}"
    return f"s:{seller_id}"


def matches(search: SavedSearch, listing: NewListing) -> bool:
    """Whether the listing passes every filter of the search."""
    if search.seller_id is not None and search.seller_id != listing.seller_id:
        return False
    if search.category_id is not None and search.category_id not in listing.categories:
        return False
    if search.min_price is not None and listing.price_amount < search.min_price:
        return False
    if search.max_price is not None and listing.price_amount > search.max_price:
        return False
    if search.conditions and listing.condition not in search.conditions:
        return False
    return all(listing.has_word_starting(term) for term in search.terms)


def match_batch(
    searches: Iterable[SavedSearch], listings: Collection[NewListing]
) -> list[tuple[SavedSearch, NewListing]]:
    """Every (search, listing) pair that matches, for candidate `searches` of `listings`:
    each search is checked only against the listings that carry its key."""
    by_key: dict[str, list[NewListing]] = {}
    for listing in listings:
        for key in listing.keys():  # noqa: SIM118 (a method of NewListing, not a dict)
            by_key.setdefault(key, []).append(listing)
    found: list[tuple[SavedSearch, NewListing]] = []
    for search in searches:
        key = index_key(search.terms, search.category_id, search.seller_id)
        found.extend(
            (search, listing) for listing in by_key.get(key, ()) if matches(search, listing)
        )
    return found
