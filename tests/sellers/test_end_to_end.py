"""The issue's must-show: apply → approve → create → publish → found by search → suspend the
seller → gone from search → reinstate → back. Every step goes through HTTP, as clients do."""

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user, me, register_and_login
from tests.factories.api import assert_problem, json_ok
from tests.factories.audit import audit_log
from tests.factories.catalog import (
    LISTINGS,
    MY_LISTINGS,
    create_listing,
    listing_body,
    nested_leaf_category,
    publish,
)
from tests.factories.sellers import SELLERS, apply_ok, approve, approved_seller, decide_ok

TITLE = "Zephyrphone 12 Pro, 256 GB"


async def _search_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    """Listing ids an anonymous visitor finds."""
    response = await client.get(LISTINGS, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _visible_everywhere(
    client: httpx.AsyncClient, listing_id: str, seller_id: str, buyer: LoggedIn
) -> bool:
    """Whether the public finds the listing by text, by prefix and by seller; all of these
    must agree with what its page and its shop's page say. Both pages stay readable while
    the shop is suspended (issue 15), marked not for sale / not accepting orders."""
    by_text = listing_id in await _search_ids(client, q="zephyrphone")
    by_prefix = listing_id in await _search_ids(client, q="Zephyr")
    by_seller = listing_id in await _search_ids(client, seller=seller_id)
    anonymous = json_ok(await client.get(f"{LISTINGS}/{listing_id}"))
    as_buyer = json_ok(await client.get(f"{LISTINGS}/{listing_id}", headers=buyer.headers))
    storefront = json_ok(await client.get(f"{SELLERS}/{seller_id}"))
    on_sale = [anonymous["for_sale"], as_buyer["for_sale"], storefront["accepting_orders"]]
    visible = [by_text, by_prefix, by_seller, *on_sale]
    assert len(set(visible)) == 1, visible
    if not visible[0]:
        assert anonymous["status"] == as_buyer["status"] == "shop_suspended"
        assert storefront["status"] == "suspended"
        assert storefront["active_listing_count"] == 0
    return visible[0]


async def test_apply_approve_list_publish_search_suspend_reinstate(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_user(client, session)
    buyer = await register_and_login(client, display_name="Buyer")
    leaf_id = await nested_leaf_category(client, admin=admin)
    # Another shop's listing stays visible throughout: a suspension hits one shop only.
    bystander, bystander_id = await approved_seller(client, session, admin=admin)
    bystander_listing = await create_listing(
        client, seller=bystander, category_id=leaf_id, title="Zephyrphone 11"
    )
    await publish(client, seller=bystander, listing_id=bystander_listing["id"])

    # Apply: pending, and not allowed to sell yet.
    seller = await register_and_login(client, display_name="Seller")
    seller_id = (await apply_ok(client, who=seller, shop_name="Zephyr Outlet"))["id"]
    early = await client.post(
        LISTINGS, json=listing_body(category_id=leaf_id), headers=seller.headers
    )
    assert_problem(early, 403, "seller_required")

    # The admin approves: the user is a seller now.
    assert (await approve(client, admin=admin, seller_id=seller_id))["status"] == "approved"
    assert (await me(client, who=seller))["roles"] == ["buyer", "seller"]

    # Create a draft: the public cannot see it yet.
    listing = await create_listing(client, seller=seller, category_id=leaf_id, title=TITLE)
    listing_id = listing["id"]
    assert listing["status"] == "draft"
    assert listing_id not in await _search_ids(client, q="zephyrphone")
    assert_problem(await client.get(f"{LISTINGS}/{listing_id}"), 404, "not_found")

    # Publish (auto moderation): live and found.
    published = await publish(client, seller=seller, listing_id=listing_id)
    assert published["status"] == "active"
    assert await _visible_everywhere(client, listing_id, seller_id, buyer)
    assert await _search_ids(client, seller=seller_id) == [listing_id]
    anonymous = (await client.get(f"{LISTINGS}/{listing_id}")).json()
    assert anonymous["title"] == TITLE
    assert anonymous["seller"]["id"] == seller_id
    storefront = (await client.get(f"{SELLERS}/{seller_id}")).json()
    assert storefront["active_listing_count"] == 1

    # Suspend the seller: gone from search and from the public, not from the seller's view.
    suspended = await decide_ok(
        client, admin=admin, seller_id=seller_id, action="suspend", reason="Counterfeit reports"
    )
    assert suspended["status"] == "suspended"
    assert not await _visible_everywhere(client, listing_id, seller_id, buyer)
    assert await _search_ids(client, seller=seller_id) == []
    assert await _search_ids(client, q="zephyrphone") == [bystander_listing["id"]]
    own = await client.get(MY_LISTINGS, headers=seller.headers)
    assert own.status_code == 200, own.text
    assert [(i["id"], i["status"]) for i in own.json()["items"]] == [(listing_id, "active")]
    own_one = await client.get(f"{MY_LISTINGS}/{listing_id}", headers=seller.headers)
    assert own_one.status_code == 200, own_one.text
    assert own_one.json()["id"] == listing_id
    assert (own_one.json()["status"], own_one.json()["shop_status"]) == ("active", "suspended")
    # ...and the suspended seller cannot sell meanwhile.
    blocked = await client.post(
        LISTINGS, json=listing_body(category_id=leaf_id), headers=seller.headers
    )
    assert_problem(blocked, 403, "seller_suspended")
    assert (await me(client, who=seller))["roles"] == ["buyer"]

    # Reinstate: everything is back as it was.
    reinstated = await decide_ok(client, admin=admin, seller_id=seller_id, action="reinstate")
    assert reinstated["status"] == "approved"
    assert await _visible_everywhere(client, listing_id, seller_id, buyer)
    assert await _search_ids(client, seller=seller_id) == [listing_id]
    assert set(await _search_ids(client, q="zephyrphone")) == {
        listing_id,
        bystander_listing["id"],
    }
    back = (await client.get(f"{LISTINGS}/{listing_id}")).json()
    assert back["status"] == "active"
    assert back["title"] == TITLE
    assert (await client.get(f"{SELLERS}/{seller_id}")).json()["active_listing_count"] == 1
    assert (await me(client, who=seller))["roles"] == ["buyer", "seller"]

    # The bystander's listing never left, and the trail records every decision.
    assert await _search_ids(client, seller=bystander_id) == [bystander_listing["id"]]
    trail = [
        (e["action"], e["actor_id"])
        for e in await audit_log(client, admin=admin, target_id=seller_id, target_type="seller")
    ]
    assert trail == [
        ("seller.reinstate", admin.user_id),
        ("seller.suspend", admin.user_id),
        ("seller.approve", admin.user_id),
    ]


async def test_rejected_applicant_reapplies_and_ends_up_selling(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_user(client, session)
    leaf_id = await nested_leaf_category(client, admin=admin)
    seller = await register_and_login(client)
    seller_id = (await apply_ok(client, who=seller, shop_name="Zephyr Outlet"))["id"]

    await decide_ok(
        client,
        admin=admin,
        seller_id=seller_id,
        action="reject",
        reason="Add a business registration",
    )
    refused = await client.post(
        LISTINGS, json=listing_body(category_id=leaf_id), headers=seller.headers
    )
    assert_problem(refused, 403, "seller_required")
    await apply_ok(client, who=seller, shop_name="Zephyr Outlet GmbH", seller_type="business")
    await approve(client, admin=admin, seller_id=seller_id)
    listing = await create_listing(client, seller=seller, category_id=leaf_id, title=TITLE)
    await publish(client, seller=seller, listing_id=listing["id"])

    assert await _search_ids(client, q="zephyrphone") == [listing["id"]]
    found = (await client.get(f"{LISTINGS}/{listing['id']}")).json()
    assert found["seller"]["shop_name"] == "Zephyr Outlet GmbH"
    assert found["seller"]["slug"] == "zephyr-outlet-gmbh"
