"""The category tree: public read in one call, admin-managed (audited), never cyclic, and
never pulled out from under a listing."""

import uuid
from typing import Any

import httpx
import pytest

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.audit import AUDIT_LOG, audit_log
from tests.factories.catalog import ADMIN_CATEGORIES, CATEGORIES, create_category, create_listing


def _shape(nodes: list[Json]) -> list[Any]:
    """The tree as (slug, [children...]) pairs, which is what its order and nesting mean."""
    return [(node["slug"], _shape(node["children"])) for node in nodes]


async def _tree(client: httpx.AsyncClient) -> list[Json]:
    tree: list[Json] = json_ok(await client.get(CATEGORIES))
    return tree


def _find(nodes: list[Json], category_id: str) -> Json | None:
    for node in nodes:
        if node["id"] == category_id:
            return node
        found = _find(node["children"], category_id)
        if found is not None:
            return found
    return None


async def test_an_empty_catalog_has_an_empty_tree(client: httpx.AsyncClient) -> None:
    assert await _tree(client) == []


async def test_the_tree_is_nested_and_ordered_by_position(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    fashion = await create_category(client, admin=admin, name="Fashion", position=1)
    electronics = await create_category(client, admin=admin, name="Electronics", position=0)
    shoes = await create_category(
        client, admin=admin, name="Shoes", parent_id=fashion["id"], position=5
    )
    await create_category(client, admin=admin, name="Bags", parent_id=fashion["id"], position=9)
    await create_category(client, admin=admin, name="Hats", parent_id=fashion["id"], position=2)
    await create_category(client, admin=admin, name="Boots", parent_id=shoes["id"])
    await create_category(client, admin=admin, name="Phones", parent_id=electronics["id"])

    tree = await _tree(client)  # anonymous: the tree is public

    assert _shape(tree) == [
        ("electronics", [("phones", [])]),
        ("fashion", [("hats", []), ("shoes", [("boots", [])]), ("bags", [])]),
    ]
    shoes_node = tree[1]["children"][1]
    assert shoes_node == {
        "id": shoes["id"],
        "name": "Shoes",
        "slug": "shoes",
        "parent_id": fashion["id"],
        "position": 5,
        "children": [shoes_node["children"][0]],
    }
    assert tree[0]["parent_id"] is None


async def test_create_derives_the_slug_from_the_name(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    response = await client.post(
        ADMIN_CATEGORIES, json={"name": "Home & Garden Café"}, headers=admin.headers
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Home & Garden Café"
    assert body["slug"] == "home-garden-cafe"
    assert body["parent_id"] is None
    assert body["position"] == 0
    uuid.UUID(body["id"])


async def test_create_takes_an_explicit_slug(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    body = await create_category(client, admin=admin, name="Mobile Phones", slug="phones")

    assert body["slug"] == "phones"
    assert _shape(await _tree(client)) == [("phones", [])]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param({"name": "Phones"}, {"name": "phones!"}, id="derived-slug-clash"),
        pytest.param({"name": "A", "slug": "x"}, {"name": "B", "slug": "x"}, id="explicit-slug"),
        pytest.param({"name": "Toys"}, {"name": "Games", "slug": "toys"}, id="explicit-vs-derived"),
    ],
)
async def test_a_duplicate_slug_is_409(
    client: httpx.AsyncClient, admin: LoggedIn, first: Json, second: Json
) -> None:
    await create_category(client, admin=admin, **first)

    response = await client.post(ADMIN_CATEGORIES, json=second, headers=admin.headers)

    assert_problem(response, 409, "category_slug_taken")
    assert len(await _tree(client)) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": ""}, id="empty-name"),
        pytest.param({"name": "   "}, id="blank-name"),
        pytest.param({"name": "Ok", "slug": "Not A Slug"}, id="bad-slug"),
        pytest.param({"name": "Ok", "position": -1}, id="negative-position"),
        pytest.param({"name": "Ok", "extra": 1}, id="unknown-field"),
        pytest.param({"name": "O\u0000k"}, id="nul"),
        # A position is a JSON integer, strict as every other one (it was coerced).
        pytest.param({"name": "Ok", "position": "5"}, id="numeric-string-position"),
        pytest.param({"name": "Ok", "position": True}, id="boolean-position"),
        pytest.param({"name": "Ok", "position": 1.5}, id="fractional-position"),
    ],
)
async def test_create_rejects_bad_input(
    client: httpx.AsyncClient, admin: LoggedIn, body: Json
) -> None:
    response = await client.post(ADMIN_CATEGORIES, json=body, headers=admin.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]
    assert await _tree(client) == []


async def test_create_under_an_unknown_parent_is_422(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    response = await client.post(
        ADMIN_CATEGORIES,
        json={"name": "Orphan", "parent_id": str(uuid.uuid4())},
        headers=admin.headers,
    )

    assert_problem(response, 422, "unknown_category")


async def test_move_under_an_unknown_parent_is_422(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    node = await create_category(client, admin=admin, name="Node")

    response = await client.patch(
        f"{ADMIN_CATEGORIES}/{node['id']}",
        json={"parent_id": str(uuid.uuid4())},
        headers=admin.headers,
    )

    assert_problem(response, 422, "unknown_category")
    assert _shape(await _tree(client)) == [("node", [])]


async def test_rename_keeps_the_slug_and_place(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    root = await create_category(client, admin=admin, name="Electronics")
    phones = await create_category(client, admin=admin, name="Phones", parent_id=root["id"])

    response = await client.patch(
        f"{ADMIN_CATEGORIES}/{phones['id']}", json={"name": "Mobile phones"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {**phones, "name": "Mobile phones"}
    node = _find(await _tree(client), phones["id"])
    assert node is not None
    assert node["name"] == "Mobile phones"
    assert node["parent_id"] == root["id"]


async def test_move_reparents_a_whole_subtree_and_back_to_the_root(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    electronics = await create_category(client, admin=admin, name="Electronics")
    fashion = await create_category(client, admin=admin, name="Fashion", position=1)
    watches = await create_category(client, admin=admin, name="Watches", parent_id=fashion["id"])
    await create_category(client, admin=admin, name="Smart watches", parent_id=watches["id"])

    moved = await client.patch(
        f"{ADMIN_CATEGORIES}/{watches['id']}",
        json={"parent_id": electronics["id"], "position": 3},
        headers=admin.headers,
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["parent_id"] == electronics["id"]
    assert _shape(await _tree(client)) == [
        ("electronics", [("watches", [("smart-watches", [])])]),
        ("fashion", []),
    ]

    to_root = await client.patch(
        f"{ADMIN_CATEGORIES}/{watches['id']}", json={"parent_id": None}, headers=admin.headers
    )

    assert to_root.status_code == 200, to_root.text
    assert to_root.json()["parent_id"] is None
    assert _shape(await _tree(client)) == [
        ("electronics", []),
        ("fashion", []),
        ("watches", [("smart-watches", [])]),
    ]


async def test_change_slug_to_a_taken_one_is_409(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    await create_category(client, admin=admin, name="Phones")
    tablets = await create_category(client, admin=admin, name="Tablets")

    response = await client.patch(
        f"{ADMIN_CATEGORIES}/{tablets['id']}", json={"slug": "phones"}, headers=admin.headers
    )

    assert_problem(response, 409, "category_slug_taken")
    node = _find(await _tree(client), tablets["id"])
    assert node is not None
    assert node["slug"] == "tablets"


@pytest.mark.parametrize("target", ["itself", "child", "grandchild"])
async def test_moving_a_node_under_its_own_subtree_is_409(
    client: httpx.AsyncClient, admin: LoggedIn, target: str
) -> None:
    root = await create_category(client, admin=admin, name="Root")
    node = await create_category(client, admin=admin, name="Node", parent_id=root["id"])
    child = await create_category(client, admin=admin, name="Child", parent_id=node["id"])
    grandchild = await create_category(
        client, admin=admin, name="Grandchild", parent_id=child["id"]
    )
    new_parent = {"itself": node, "child": child, "grandchild": grandchild}[target]
    before = await _tree(client)

    response = await client.patch(
        f"{ADMIN_CATEGORIES}/{node['id']}",
        json={"parent_id": new_parent["id"]},
        headers=admin.headers,
    )

    assert_problem(response, 409, "category_cycle")
    assert await _tree(client) == before


async def test_adding_a_child_to_a_category_with_listings_is_409(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn
) -> None:
    mugs = await create_category(client, admin=admin, name="Mugs")
    elsewhere = await create_category(client, admin=admin, name="Elsewhere")
    await create_listing(client, seller=seller, category_id=mugs["id"])

    created = await client.post(
        ADMIN_CATEGORIES, json={"name": "Tea mugs", "parent_id": mugs["id"]}, headers=admin.headers
    )
    moved = await client.patch(
        f"{ADMIN_CATEGORIES}/{elsewhere['id']}",
        json={"parent_id": mugs["id"]},
        headers=admin.headers,
    )

    assert_problem(created, 409, "category_has_listings")
    assert_problem(moved, 409, "category_has_listings")
    assert _shape(await _tree(client)) == [("elsewhere", []), ("mugs", [])]


async def test_delete_a_category_with_listings_is_409(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn
) -> None:
    mugs = await create_category(client, admin=admin, name="Mugs")
    await create_listing(client, seller=seller, category_id=mugs["id"])

    response = await client.delete(f"{ADMIN_CATEGORIES}/{mugs['id']}", headers=admin.headers)

    assert_problem(response, 409, "category_has_listings")
    assert _find(await _tree(client), mugs["id"]) is not None


async def test_delete_a_category_with_children_is_409(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    root = await create_category(client, admin=admin, name="Root")
    await create_category(client, admin=admin, name="Leaf", parent_id=root["id"])

    response = await client.delete(f"{ADMIN_CATEGORIES}/{root['id']}", headers=admin.headers)

    assert_problem(response, 409, "category_has_children")
    assert _shape(await _tree(client)) == [("root", [("leaf", [])])]


async def test_delete_an_empty_leaf_is_204(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    root = await create_category(client, admin=admin, name="Root")
    leaf = await create_category(client, admin=admin, name="Leaf", parent_id=root["id"])

    response = await client.delete(f"{ADMIN_CATEGORIES}/{leaf['id']}", headers=admin.headers)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert _shape(await _tree(client)) == [("root", [])]
    # Its slug is free again, and the parent may now hold listings.
    again = await create_category(client, admin=admin, name="Leaf")
    assert again["slug"] == "leaf"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("PATCH", "{id}", {"name": "New"}, id="patch"),
        pytest.param("DELETE", "{id}", None, id="delete"),
    ],
)
async def test_an_unknown_category_is_404(
    client: httpx.AsyncClient, admin: LoggedIn, method: str, path: str, body: Json | None
) -> None:
    url = f"{ADMIN_CATEGORIES}/{path.format(id=uuid.uuid4())}"

    response = await client.request(method, url, json=body, headers=admin.headers)

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("caller", ["anonymous", "buyer", "seller"])
@pytest.mark.parametrize("operation", ["create", "update", "delete"])
async def test_only_admins_manage_categories(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    buyer: LoggedIn,
    seller: LoggedIn,
    caller: str,
    operation: str,
) -> None:
    existing = await create_category(client, admin=admin, name="Existing")
    headers = {"anonymous": {}, "buyer": buyer.headers, "seller": seller.headers}[caller]
    url = f"{ADMIN_CATEGORIES}/{existing['id']}"
    if operation == "create":
        response = await client.post(ADMIN_CATEGORIES, json={"name": "New"}, headers=headers)
    elif operation == "update":
        response = await client.patch(url, json={"name": "Renamed"}, headers=headers)
    else:
        response = await client.delete(url, headers=headers)

    if caller == "anonymous":
        assert_problem(response, 401, "invalid_token")
    else:
        assert_problem(response, 403, "admin_required")
    assert _shape(await _tree(client)) == [("existing", [])]
    assert (await _tree(client))[0]["name"] == "Existing"


async def test_every_admin_change_is_audited(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    root = await create_category(client, admin=admin, name="Root")
    leaf = await create_category(client, admin=admin, name="Leaf", parent_id=root["id"])
    renamed = await client.patch(
        f"{ADMIN_CATEGORIES}/{leaf['id']}", json={"name": "Renamed leaf"}, headers=admin.headers
    )
    assert renamed.status_code == 200, renamed.text
    deleted = await client.delete(f"{ADMIN_CATEGORIES}/{leaf['id']}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text

    leaf_log = await audit_log(client, admin=admin, target_type="category", target_id=leaf["id"])
    root_log = await audit_log(client, admin=admin, target_type="category", target_id=root["id"])

    assert [e["action"] for e in leaf_log] == [
        "category.deleted",
        "category.updated",
        "category.created",
    ]
    assert all(e["actor_id"] == admin.user_id for e in leaf_log)
    assert leaf_log[2]["details"] == {"slug": "leaf"}
    assert leaf_log[1]["details"] == {"name": "Renamed leaf"}
    assert [e["action"] for e in root_log] == ["category.created"]


async def test_refused_changes_leave_no_audit_entry(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    root = await create_category(client, admin=admin, name="Root")
    await create_category(client, admin=admin, name="Leaf", parent_id=root["id"])

    refused = await client.delete(f"{ADMIN_CATEGORIES}/{root['id']}", headers=admin.headers)
    assert_problem(refused, 409, "category_has_children")

    response = await client.get(AUDIT_LOG, headers=admin.headers)
    assert response.status_code == 200, response.text
    actions = [e["action"] for e in response.json()["items"] if e["target_type"] == "category"]
    assert actions == ["category.created", "category.created"]
