"""The in-memory category tree behind search-by-category and GET /v1/categories: changes made
through the app show at once, changes made elsewhere within the TTL, and a load that races a
committed change is used once but not kept."""

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.auth.principal import Principal
from app.catalog import category_service, category_tree
from app.catalog.category_tree import CategoryTreeCache, CategoryTreeSnapshot
from app.catalog.models import Category
from app.catalog.schemas import CategoryCreate
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import LoggedIn, create_user
from tests.factories.api import Json
from tests.factories.catalog import (
    ADMIN_CATEGORIES,
    CATEGORIES,
    LISTINGS,
    create_category,
    live_listing,
)


async def _slugs(client: httpx.AsyncClient) -> list[str]:
    response = await client.get(CATEGORIES)
    assert response.status_code == 200, response.text
    roots: list[Json] = response.json()
    return [root["slug"] for root in roots]


async def _found_under(client: httpx.AsyncClient, category: str) -> list[str]:
    response = await client.get(LISTINGS, params={"category": category})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_move_through_the_api_shows_in_search_at_once(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn
) -> None:
    old_root = await create_category(client, admin=admin, name="Old home")
    new_root = await create_category(client, admin=admin, name="New home")
    leaf = await create_category(client, admin=admin, name="Mugs", parent_id=old_root["id"])
    listing = await live_listing(client, seller=seller, category_id=leaf["id"])
    assert await _found_under(client, "old-home") == [listing["id"]]  # the tree is now cached

    moved = await client.patch(
        f"{ADMIN_CATEGORIES}/{leaf['id']}",
        json={"parent_id": new_root["id"]},
        headers=admin.headers,
    )
    assert moved.status_code == 200, moved.text

    assert await _found_under(client, "old-home") == []
    assert await _found_under(client, "new-home") == [listing["id"]]
    # An id in any spelling names the same category as its slug.
    assert await _found_under(client, new_root["id"].upper()) == [listing["id"]]


async def test_created_and_deleted_categories_show_at_once(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    assert await _slugs(client) == []
    created = await create_category(client, admin=admin, name="Garden")
    assert await _slugs(client) == ["garden"]

    deleted = await client.delete(f"{ADMIN_CATEGORIES}/{created['id']}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    assert await _slugs(client) == []


async def test_a_change_made_by_another_process_shows_within_the_ttl(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    ttl = app.state.settings.category_tree_ttl
    clock.freeze()
    assert await _slugs(client) == []  # loaded and kept
    async with database.session_scope() as other_process:  # no app's tree is told of this
        other_process.add(Category(name="Books", slug="books", position=0))

    clock.advance(ttl - timedelta(seconds=1))
    assert await _slugs(client) == []
    clock.advance(timedelta(seconds=1))
    assert await _slugs(client) == ["books"]


async def test_a_load_that_races_a_committed_change_is_not_kept(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = CategoryTreeCache(timedelta(hours=1))
    load = category_tree.load_tree

    async def load_then_change_commits(session: object) -> CategoryTreeSnapshot:
        tree = await load(session)  # type: ignore[arg-type]
        # Another request commits a change after this load read the table.
        async with database.session_scope() as writer:
            cache.drop_on_commit(writer)
            writer.add(Category(name="Toys", slug="toys", position=0))
        return tree

    async with database.session_scope() as session:
        monkeypatch.setattr(category_tree, "load_tree", load_then_change_commits)
        raced = await cache.get(session)
        monkeypatch.setattr(category_tree, "load_tree", load)
        assert raced.subtree_ids("toys") == ()  # what that load saw, used once
        assert (await cache.get(session)).subtree_ids("toys") != ()  # but not kept


async def test_a_change_counts_once_committed_not_when_its_savepoint_is_released(
    committed_database: Database,
) -> None:
    """The category service saves through a savepoint; a reload between that savepoint and
    the commit reads the old tree, which must not then be kept for the TTL."""
    database = committed_database
    cache = CategoryTreeCache(timedelta(hours=1))
    async with database.session_scope() as setup:
        admin = await create_user(setup, is_admin=True)
    async with database.session_scope() as writer:
        await category_service.create(writer, cache, Principal(admin), CategoryCreate(name="Toys"))
        async with database.read_sessionmaker() as reader:  # a search, meanwhile
            assert (await cache.get(reader)).subtree_ids("toys") == ()
    async with database.session_scope() as reader:
        assert (await cache.get(reader)).subtree_ids("toys") != ()


async def test_a_rolled_back_change_keeps_the_tree(committed_database: Database) -> None:
    database = committed_database
    cache = CategoryTreeCache(timedelta(hours=1))
    async with database.session_scope() as setup:
        admin = await create_user(setup, is_admin=True)
        kept = await cache.get(setup)

    async def failed_change() -> None:
        async with database.session_scope() as writer:
            await category_service.create(
                writer, cache, Principal(admin), CategoryCreate(name="Toys")
            )
            raise RuntimeError("the request failed after the change")

    with pytest.raises(RuntimeError):
        await failed_change()
    async with database.session_scope() as reader:
        assert await cache.get(reader) is kept


def test_subtrees_include_every_descendant_by_id_or_slug() -> None:
    root = Category(id=uuid.uuid4(), name="Electronics", slug="electronics", position=0)
    phones = Category(id=uuid.uuid4(), name="Phones", slug="phones", position=0, parent_id=root.id)
    cases = Category(id=uuid.uuid4(), name="Cases", slug="cases", position=0, parent_id=phones.id)

    tree = CategoryTreeSnapshot.build([root, phones, cases])

    assert set(tree.subtree_ids("electronics")) == {root.id, phones.id, cases.id}
    assert tree.subtree_ids(str(phones.id)) == (phones.id, cases.id)
    assert tree.subtree_ids("cases") == (cases.id,)
    assert tree.subtree_ids("unknown") == ()
    assert [node.slug for node in tree.roots] == ["electronics"]
    assert [child.slug for child in tree.roots[0].children] == ["phones"]
