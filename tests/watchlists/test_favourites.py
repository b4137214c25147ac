"""Favourites: kept by a buyer, counted for the seller, and told by the worker of a price
drop or a restock once per change."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.core.db import Database
from app.watchlists.repository import FavouriteRepository
from tests.factories.accounts import buyer_user
from tests.factories.api import assert_problem, json_ok, only_page, usd
from tests.factories.catalog import (
    act,
    create_listing,
    listing_for_sale,
    patch_listing,
    read_own_listing,
)
from tests.factories.notifications import inbox
from tests.factories.orders import market
from tests.factories.privacy import deleted
from tests.factories.watchlists import FAVOURITES, favourite, post_favourite, settled_sweep


async def test_a_buyer_favourites_lists_and_removes_a_listing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, price=2500)

    created = await favourite(client, who=m.buyer, listing_id=listing["id"])

    assert created["listing_id"] == listing["id"]
    assert created["listing"]["id"] == listing["id"]
    assert created["listing"]["status"] == "active"
    assert created["price_when_favourited"] == usd(2500)
    assert created["price_now"] == usd(2500)
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(3000))
    (kept,) = only_page(await client.get(FAVOURITES, headers=m.buyer.headers))
    assert kept["price_when_favourited"] == usd(2500)
    assert kept["price_now"] == usd(3000)
    assert kept["favourited_at"] == created["favourited_at"]

    again = await post_favourite(client, who=m.buyer, listing_id=listing["id"])
    assert_problem(again, 409, "already_favourited")
    put = await client.put(f"{FAVOURITES}/{listing['id']}", headers=m.buyer.headers)
    assert put.status_code == 200
    assert put.json()["favourited_at"] == created["favourited_at"]

    gone = await client.delete(f"{FAVOURITES}/{listing['id']}", headers=m.buyer.headers)
    assert gone.status_code == 204
    assert only_page(await client.get(FAVOURITES, headers=m.buyer.headers)) == []
    again_gone = await client.delete(f"{FAVOURITES}/{listing['id']}", headers=m.buyer.headers)
    assert_problem(again_gone, 404, "not_found")
    put_new = await client.put(f"{FAVOURITES}/{listing['id']}", headers=m.buyer.headers)
    assert put_new.status_code == 201


async def test_only_listings_for_sale_or_sold_out_and_not_ones_own(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    draft = await create_listing(client, seller=m.seller, category_id=m.category_id)
    paused = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await act(client, who=m.seller, action="pause", listing_id=paused["id"], expected="paused")
    sold_out = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await patch_listing(client, seller=m.seller, listing_id=sold_out["id"], quantity=0)
    live = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    for listing_id in (draft["id"], paused["id"], "00000000-0000-7000-8000-000000000000"):
        response = await post_favourite(client, who=m.buyer, listing_id=listing_id)
        assert_problem(response, 404, "not_found")
    await favourite(client, who=m.buyer, listing_id=sold_out["id"])
    own = await post_favourite(client, who=m.seller, listing_id=live["id"])
    assert_problem(own, 422, "cannot_favourite_own_listing")
    unknown_field = await client.post(
        FAVOURITES, json={"listing_id": live["id"], "note": "x"}, headers=m.buyer.headers
    )
    assert_problem(unknown_field, 422, "validation_error")


async def test_the_favourite_limit(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = await market(client, session)
    first = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    second = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    monkeypatch.setattr(settings, "favourites_per_user", 1)

    await favourite(client, who=m.buyer, listing_id=first["id"])
    over = await post_favourite(client, who=m.buyer, listing_id=second["id"])
    assert_problem(over, 409, "favourite_limit_reached")
    await client.delete(f"{FAVOURITES}/{first['id']}", headers=m.buyer.headers)
    await favourite(client, who=m.buyer, listing_id=second["id"])


async def test_the_seller_sees_how_many_keep_a_listing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    other = await buyer_user(client)
    before = await read_own_listing(client, seller=m.seller, listing_id=listing["id"])
    assert before["favourite_count"] == 0

    await favourite(client, who=m.buyer, listing_id=listing["id"])
    await favourite(client, who=other, listing_id=listing["id"])
    after = await read_own_listing(client, seller=m.seller, listing_id=listing["id"])
    assert after["favourite_count"] == 2
    # Being favourited is no change of the listing.
    assert after["updated_at"] == before["updated_at"]
    public = json_ok(await client.get(f"/v1/listings/{listing['id']}"))
    assert "favourite_count" not in public

    await client.delete(f"{FAVOURITES}/{listing['id']}", headers=other.headers)
    final = await read_own_listing(client, seller=m.seller, listing_id=listing["id"])
    assert final["favourite_count"] == 1


def _of_type(notices: list[dict[str, object]], kind: str) -> list[dict[str, object]]:
    return [n for n in notices if n["type"] == kind]


async def test_a_price_drop_is_told_once_to_each_favouriter_and_a_rise_not_at_all(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=5000, title="Brass lamp"
    )
    other = await buyer_user(client)
    await favourite(client, who=m.buyer, listing_id=listing["id"])
    await favourite(client, who=other, listing_id=listing["id"])

    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(6000))
    await settled_sweep(database, settings)
    assert _of_type(await inbox(client, who=m.buyer), "favourite.price_dropped") == []

    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(4500))
    await settled_sweep(database, settings)
    await settled_sweep(database, settings)
    for who in (m.buyer, other):
        (notice,) = _of_type(await inbox(client, who=who), "favourite.price_dropped")
        assert notice["title"] == "A favourite is cheaper"
        assert notice["body"] == "“Brass lamp” is now 45.00 USD."
        assert notice["resource_type"] == "listing"
        assert notice["resource_id"] == listing["id"]
    assert _of_type(await inbox(client, who=m.seller), "favourite.price_dropped") == []

    # Up again, then down, but not below what they were told: nothing new.
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(4800))
    await settled_sweep(database, settings)
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(4600))
    await settled_sweep(database, settings)
    assert len(_of_type(await inbox(client, who=m.buyer), "favourite.price_dropped")) == 1
    # Below it: told again.
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(4000))
    await settled_sweep(database, settings)
    drops = _of_type(await inbox(client, who=m.buyer), "favourite.price_dropped")
    assert [n["body"] for n in drops] == [
        "“Brass lamp” is now 40.00 USD.",
        "“Brass lamp” is now 45.00 USD.",
    ]


async def test_a_price_drop_waits_while_the_listing_is_paused(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, price=5000)
    await favourite(client, who=m.buyer, listing_id=listing["id"])
    await act(client, who=m.seller, action="pause", listing_id=listing["id"], expected="paused")
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(3000))
    await settled_sweep(database, settings)
    assert _of_type(await inbox(client, who=m.buyer), "favourite.price_dropped") == []

    await act(client, who=m.seller, action="resume", listing_id=listing["id"], expected="active")
    await settled_sweep(database, settings)
    assert len(_of_type(await inbox(client, who=m.buyer), "favourite.price_dropped")) == 1


async def test_back_in_stock_is_told_once(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Oak stool"
    )
    await favourite(client, who=m.buyer, listing_id=listing["id"])
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], quantity=0)
    await settled_sweep(database, settings)
    assert _of_type(await inbox(client, who=m.buyer), "favourite.back_in_stock") == []

    restocked = await patch_listing(client, seller=m.seller, listing_id=listing["id"], quantity=3)
    assert restocked["status"] == "active"
    await settled_sweep(database, settings)
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], quantity=4)
    await settled_sweep(database, settings)

    (notice,) = _of_type(await inbox(client, who=m.buyer), "favourite.back_in_stock")
    assert notice["title"] == "A favourite is back in stock"
    assert notice["body"] == "“Oak stool” is for sale again."
    assert notice["resource_id"] == listing["id"]


async def test_a_sold_out_favourite_is_told_when_restocked(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], quantity=0)
    await favourite(client, who=m.buyer, listing_id=listing["id"])
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], quantity=2)
    await settled_sweep(database, settings)
    assert len(_of_type(await inbox(client, who=m.buyer), "favourite.back_in_stock")) == 1


@pytest.mark.parametrize("path", [FAVOURITES, "/v1/me/saved-searches"])
async def test_anonymous_callers_are_refused(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path), 401, "invalid_token")


async def test_put_answers_a_favourite_held_of_a_listing_paused_since(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await favourite(client, who=m.buyer, listing_id=listing["id"])
    await act(client, who=m.seller, action="pause", listing_id=listing["id"], expected="paused")

    put = await client.put(f"{FAVOURITES}/{listing['id']}", headers=m.buyer.headers)
    assert put.status_code == 200, put.text
    assert put.json()["favourited_at"] == created["favourited_at"]
    assert put.json()["listing"]["status"] == "paused"
    # Not held by somebody else: still as if it did not exist.
    other = await buyer_user(client)
    stranger = await client.put(f"{FAVOURITES}/{listing['id']}", headers=other.headers)
    assert_problem(stranger, 404, "not_found")


async def test_the_worker_reads_only_the_favourites_it_changes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    cheap = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, price=5000)
    empty = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await patch_listing(client, seller=m.seller, listing_id=empty["id"], quantity=0)
    other = await buyer_user(client)
    for who in (m.buyer, other):
        await favourite(client, who=who, listing_id=cheap["id"])
        await favourite(client, who=who, listing_id=empty["id"])
    users = {m.buyer.user_id: "buyer", other.user_id: "other"}
    cheap_id, empty_id = uuid.UUID(cheap["id"]), uuid.UUID(empty["id"])
    # The buyer has since been told of a lower price (4000), the other not.
    buyers = await FavouriteRepository(session).get_of_user(uuid.UUID(m.buyer.user_id), cheap_id)
    assert buyers is not None
    buyers.price_seen = 4000
    await session.flush()

    repository = FavouriteRepository(session)

    async def picked(**given: Any) -> list[tuple[str, str]]:
        arguments: dict[str, Any] = {"prices": {}, "sold_out": [], "restocked": [], **given}
        found = await repository.to_update(**arguments)
        return [
            ("cheap" if f.listing_id == cheap_id else "empty", users[str(f.user_id)]) for f in found
        ]

    assert sorted(await picked(prices={cheap_id: (4500, "USD")})) == [("cheap", "other")]
    assert sorted(await picked(prices={cheap_id: (3000, "USD")})) == [
        ("cheap", "buyer"),
        ("cheap", "other"),
    ]
    assert await picked(prices={cheap_id: (3000, "EUR")}) == []
    assert await picked(prices={cheap_id: (5000, "USD")}) == []
    # Seen without stock: a restock concerns both, a sell-out neither; seen with stock, the
    # other way round.
    assert sorted(await picked(restocked=[empty_id])) == [("empty", "buyer"), ("empty", "other")]
    assert await picked(sold_out=[empty_id]) == []
    assert await picked(restocked=[cheap_id]) == []
    assert sorted(await picked(sold_out=[cheap_id])) == [("cheap", "buyer"), ("cheap", "other")]
    assert await picked() == []


async def test_an_erased_account_lowers_its_favourites_counts_in_one_update(
    client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine
) -> None:
    m = await market(client, session)
    first = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    second = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    third = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    other = await buyer_user(client)
    for listing in (first, second, third):
        await favourite(client, who=m.buyer, listing_id=listing["id"])
    await favourite(client, who=other, listing_id=first["id"])

    statements: list[str] = []

    def record(*args: Any) -> None:
        if "favourite_count" in args[2] and args[2].lstrip().upper().startswith("UPDATE"):
            statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await deleted(client, who=m.buyer)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)

    assert len(statements) == 1
    counts = [
        (await read_own_listing(client, seller=m.seller, listing_id=listing["id"]))[
            "favourite_count"
        ]
        for listing in (first, second, third)
    ]
    assert counts == [1, 0, 0]
