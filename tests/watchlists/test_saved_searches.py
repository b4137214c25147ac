"""Saved searches: kept by their owner with the listing search's filters, matched by the
worker against listings that go live (instant notices, daily digests)."""

import uuid
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.watchlists.matching import KEY_LENGTH, TERM_LENGTH, WORDS_PER_LISTING, NewListing
from app.watchlists.models import SavedSearch, SavedSearchMatch
from tests.factories.accounts import buyer_user
from tests.factories.api import assert_problem, json_ok, only_page, usd
from tests.factories.catalog import (
    act,
    draft_listing,
    leaf_category,
    listing_for_sale,
    patch_listing,
    publish,
)
from tests.factories.notifications import inbox
from tests.factories.orders import market, relogin_market
from tests.factories.watchlists import (
    SAVED_SEARCHES,
    post_saved_search,
    save_search,
    settled_sweep,
)


async def test_a_buyer_saves_reads_changes_and_deletes_a_search(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    created = await save_search(
        client,
        who=m.buyer,
        name="Cheap lamps",
        query="Brass LAMP",
        category=m.category_id,
        min_price=usd(1000),
        max_price=usd(5000),
        conditions=["good", "new"],
        frequency="daily",
    )
    assert created["name"] == "Cheap lamps"
    assert created["query"] == "Brass LAMP"
    assert created["category_id"] == m.category_id
    assert created["min_price"] == usd(1000)
    assert created["max_price"] == usd(5000)
    assert sorted(created["conditions"]) == ["good", "new"]
    assert created["seller_id"] is None
    assert created["frequency"] == "daily"
    url = f"{SAVED_SEARCHES}/{created['id']}"
    assert json_ok(await client.get(url, headers=m.buyer.headers)) == created
    assert only_page(await client.get(SAVED_SEARCHES, headers=m.buyer.headers)) == [created]

    changed = json_ok(
        await client.patch(
            url, json={"max_price": None, "frequency": "instant"}, headers=m.buyer.headers
        )
    )
    assert changed["max_price"] is None
    assert changed["frequency"] == "instant"
    assert changed["query"] == "Brass LAMP"

    other = await buyer_user(client)
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, url, json={"name": "x"} if method == "PATCH" else None, headers=other.headers
        )
        assert_problem(response, 404, "not_found")
    assert only_page(await client.get(SAVED_SEARCHES, headers=other.headers)) == []

    assert (await client.delete(url, headers=m.buyer.headers)).status_code == 204
    assert_problem(await client.get(url, headers=m.buyer.headers), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"max_price": usd(100)}, "saved_search_too_broad"),
        ({"query": "  !!  "}, "saved_search_too_broad"),
        ({"category": "no-such-category"}, "unknown_category"),
        ({"query": "lamp", "min_price": usd(500), "max_price": usd(100)}, "validation_error"),
        (
            {"query": "lamp", "min_price": {"amount": 5, "currency": "EUR"}},
            "currency_not_supported",
        ),
        ({"query": "lamp", "conditions": ["mint"]}, "validation_error"),
        ({"query": "lamp", "frequency": "weekly"}, "validation_error"),
        ({"query": "lamp", "sort": "newest"}, "validation_error"),
        ({"query": "x" * 201}, "validation_error"),
    ],
)
async def test_bad_filters_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, body: dict[str, object], code: str
) -> None:
    buyer = await buyer_user(client)
    assert_problem(await post_saved_search(client, who=buyer, **body), 422, code)


async def test_a_null_name_is_refused_and_the_limit_holds(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buyer = await buyer_user(client)
    created = await save_search(client, who=buyer, query="lamp")
    nulled = await client.patch(
        f"{SAVED_SEARCHES}/{created['id']}", json={"name": None}, headers=buyer.headers
    )
    assert_problem(nulled, 422, "validation_error")
    monkeypatch.setattr(settings, "saved_searches_per_user", 1)
    over = await post_saved_search(client, who=buyer, query="chair")
    assert_problem(over, 409, "saved_search_limit_reached")


def _of_type(notices: list[dict[str, object]], kind: str) -> list[dict[str, object]]:
    return [n for n in notices if n["type"] == kind]


async def test_a_new_matching_listing_is_told_at_once_and_a_non_matching_one_not(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    await save_search(client, who=m.buyer, name="Lamps", query="bra lamp", max_price=usd(5000))
    other_category = await leaf_category(client, admin=m.admin)
    await save_search(client, who=m.buyer, name="Elsewhere", category=other_category)

    # Too dear; a word missing; a word only inside another word: none match.
    for title, price in (
        ("Brass lamp", 6000),
        ("Brass candle", 1000),
        ("Zebra lamp", 1000),
    ):
        await listing_for_sale(
            client, seller=m.seller, category_id=m.category_id, price=price, title=title
        )
    await settled_sweep(database, settings)
    assert _of_type(await inbox(client, who=m.buyer), "saved_search.matched") == []

    found = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=4000, title="Old brass lamp"
    )
    await settled_sweep(database, settings)
    await settled_sweep(database, settings)
    (notice,) = _of_type(await inbox(client, who=m.buyer), "saved_search.matched")
    assert notice["title"] == "New listings for your saved search"
    assert notice["body"] == "“Old brass lamp” matches your saved search “Lamps”."
    assert notice["resource_type"] == "listing"
    assert notice["resource_id"] == found["id"]


async def test_a_category_search_includes_sub_categories(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    leaf = json_ok(await client.get("/v1/categories"))
    parent_id = next(
        node["id"]
        for node in leaf
        if any(child["id"] == m.category_id for child in node["children"])
    )
    await save_search(client, who=m.buyer, name="Parent", category=parent_id, conditions=["good"])
    first = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    second = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await settled_sweep(database, settings)
    (notice,) = _of_type(await inbox(client, who=m.buyer), "saved_search.matched")
    assert notice["body"] == "2 new listings match your saved search “Parent”."
    assert notice["resource_id"] == second["id"]
    assert notice["data"]["listing_ids"] == [second["id"], first["id"]]  # type: ignore[index]


async def test_a_daily_search_sends_one_digest_a_day(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    await save_search(client, who=m.buyer, name="Stools", query="stool", frequency="daily")
    first = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Oak stool"
    )
    second = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Pine stool"
    )
    await settled_sweep(database, settings)
    assert _of_type(await inbox(client, who=m.buyer), "saved_search.matched") == []
    assert _of_type(await inbox(client, who=m.buyer), "saved_search.digest") == []

    clock.advance(timedelta(days=1))
    m = await relogin_market(client, market=m)
    await settled_sweep(database, settings)
    await settled_sweep(database, settings)
    (digest,) = _of_type(await inbox(client, who=m.buyer), "saved_search.digest")
    assert digest["body"] == "2 new listings matched your saved search “Stools” today."
    assert digest["resource_id"] == second["id"]
    assert digest["data"]["listing_ids"] == [second["id"], first["id"]]  # type: ignore[index]

    # A match later the same day waits for the next day's digest.
    third = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Stool, three legs"
    )
    await settled_sweep(database, settings)
    assert len(_of_type(await inbox(client, who=m.buyer), "saved_search.digest")) == 1
    clock.advance(timedelta(days=1))
    m = await relogin_market(client, market=m)
    await settled_sweep(database, settings)
    digests = _of_type(await inbox(client, who=m.buyer), "saved_search.digest")
    assert len(digests) == 2
    assert digests[0]["body"] == "“Stool, three legs” matched your saved search “Stools” today."
    assert digests[0]["resource_id"] == third["id"]


async def _pending_matches(session: AsyncSession) -> list[SavedSearchMatch]:
    statement = select(SavedSearchMatch).where(SavedSearchMatch.notified_at.is_(None))
    return list(await session.scalars(statement))


async def test_a_daily_search_switched_to_instant_sends_what_it_collected_at_once(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    created = await save_search(
        client, who=m.buyer, name="Stools", query="stool", frequency="daily"
    )
    found = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Oak stool"
    )
    await settled_sweep(database, settings)
    assert _of_type(await inbox(client, who=m.buyer), "saved_search.digest") == []
    assert len(await _pending_matches(session)) == 1

    switched = await client.patch(
        f"{SAVED_SEARCHES}/{created['id']}", json={"frequency": "instant"}, headers=m.buyer.headers
    )
    assert json_ok(switched)["frequency"] == "instant"
    await settled_sweep(database, settings)

    (digest,) = _of_type(await inbox(client, who=m.buyer), "saved_search.digest")
    assert digest["body"] == "“Oak stool” matched your saved search “Stools” today."
    assert digest["resource_id"] == found["id"]
    session.expire_all()
    assert await _pending_matches(session) == []
    search = await session.get(SavedSearch, uuid.UUID(created["id"]))
    assert search is not None
    assert search.digest_due_at is None
    # Once told, nothing more: the next sweep sends no second digest.
    await settled_sweep(database, settings)
    assert len(_of_type(await inbox(client, who=m.buyer), "saved_search.digest")) == 1


async def test_a_digest_leaves_out_listings_archived_or_removed_since(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    await save_search(client, who=m.buyer, name="Stools", query="stool", frequency="daily")
    kept = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Oak stool"
    )
    archived = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Pine stool"
    )
    removed = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Ash stool"
    )
    await settled_sweep(database, settings)
    assert len(await _pending_matches(session)) == 3
    await act(
        client, who=m.seller, action="archive", listing_id=archived["id"], expected="archived"
    )
    await act(client, who=m.admin, action="remove", listing_id=removed["id"], expected="removed")

    clock.advance(timedelta(days=1))
    m = await relogin_market(client, market=m)
    await settled_sweep(database, settings)
    (digest,) = _of_type(await inbox(client, who=m.buyer), "saved_search.digest")
    assert digest["body"] == "“Oak stool” matched your saved search “Stools” today."
    assert digest["data"]["listing_ids"] == [kept["id"]]  # type: ignore[index]
    session.expire_all()
    assert await _pending_matches(session) == []


async def test_a_huge_one_word_description_is_matched_by_its_title_within_bounds(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    await save_search(client, who=m.buyer, name="Desks", query="walnut")
    draft = await draft_listing(
        client, seller=m.seller, category_id=m.category_id, title="Walnut desk"
    )
    # One `\w+` word of 10,000 letters (as a CJK text without spaces is).
    await patch_listing(client, seller=m.seller, listing_id=draft["id"], description="漢" * 10_000)
    await publish(client, seller=m.seller, listing_id=draft["id"])

    await settled_sweep(database, settings)
    (notice,) = _of_type(await inbox(client, who=m.buyer), "saved_search.matched")
    assert notice["resource_id"] == draft["id"]
    assert notice["body"] == "“Walnut desk” matches your saved search “Desks”."


def _row(title: str, description: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=uuid.uuid4(),
        seller_id=uuid.uuid4(),
        category_id=uuid.uuid4(),
        title=title,
        description=description,
        price_amount=1000,
        condition="good",
    )


def test_a_listing_keeps_prefixes_only_up_to_the_key_length() -> None:
    listing = NewListing.of(_row("Walnut desk", "漢" * 10_000), ())
    # walnut: 6 prefixes, desk: 4, the long word: KEY_LENGTH (not 10,000).
    assert len(listing.prefixes) == 6 + 4 + KEY_LENGTH
    assert listing.words == ("walnut", "desk", "漢" * TERM_LENGTH)
    assert listing.has_word_starting("walnu")
    assert listing.has_word_starting("漢" * 150)
    assert listing.has_word_starting("漢" * TERM_LENGTH)
    assert not listing.has_word_starting("漢" * 150 + "x")
    assert not listing.has_word_starting("alnut")


def test_a_listing_considers_a_bounded_number_of_words_title_first() -> None:
    description = " ".join(f"w{n}" for n in range(WORDS_PER_LISTING + 500))
    listing = NewListing.of(_row("Walnut desk", description), ())
    assert len(listing.words) == WORDS_PER_LISTING
    assert listing.words[:3] == ("walnut", "desk", "w0")
    assert listing.has_word_starting(f"w{WORDS_PER_LISTING - 3}")
    assert not listing.has_word_starting(f"w{WORDS_PER_LISTING - 2}")


async def test_told_matches_are_purged_after_the_event_retention_and_never_told_again(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    await save_search(client, who=m.buyer, name="Lamps", query="lamp")
    await listing_for_sale(client, seller=m.seller, category_id=m.category_id, title="Lamp")
    await settled_sweep(database, settings)
    told = select(SavedSearchMatch).where(SavedSearchMatch.notified_at.is_not(None))
    assert len((await session.scalars(told)).all()) == 1

    clock.advance(settings.event_retention + timedelta(minutes=1))
    m = await relogin_market(client, market=m)
    await settled_sweep(database, settings)

    assert (await session.scalars(told)).all() == []
    # The watermark passed the listing long ago: it is not found, nor told, again.
    await settled_sweep(database, settings)
    assert len(_of_type(await inbox(client, who=m.buyer), "saved_search.matched")) == 1
