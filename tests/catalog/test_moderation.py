"""Moderation as configured: `auto` holds listings that trip the prohibited-terms list,
`required` holds every publish; admins work the queue (approve / reject / remove, audited)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import LoggedIn, admin_user
from tests.factories.api import Json, assert_problem, usd
from tests.factories.apps import client_with, make_settings
from tests.factories.audit import audit_log
from tests.factories.catalog import (
    ADMIN_LISTINGS,
    act,
    call,
    create_listing,
    get_listing,
    leaf_category,
    live_listing,
    patch_listing,
    read_own_listing,
    search_ids,
)
from tests.factories.sellers import approved_seller


@dataclass
class Market:
    client: httpx.AsyncClient
    admin: LoggedIn
    seller: LoggedIn
    category_id: str


async def _market(client: httpx.AsyncClient, session: AsyncSession) -> Market:
    admin = await admin_user(client, session)
    seller, _ = await approved_seller(client, session, admin=admin)
    return Market(client, admin, seller, await leaf_category(client, admin=admin))


@pytest.fixture
async def required(
    session: AsyncSession, database: Database, settings: Settings
) -> AsyncIterator[Market]:
    """A marketplace whose every publish waits for an admin."""
    async with client_with(
        database, make_settings(settings.database_url, listing_moderation="required")
    ) as client:
        yield await _market(client, session)


@pytest.fixture
async def durian_banned(
    session: AsyncSession, database: Database, settings: Settings
) -> AsyncIterator[Market]:
    """A marketplace whose prohibited-terms list is just ["durian"]."""
    async with client_with(
        database, make_settings(settings.database_url, prohibited_terms=["durian"])
    ) as client:
        yield await _market(client, session)


async def _queue(market: Market, **params: object) -> list[Json]:
    response = await market.client.get(
        ADMIN_LISTINGS, params={"limit": 100, **params}, headers=market.admin.headers
    )
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


# --- required moderation --------------------------------------------------------------------


async def test_required_mode_holds_every_publish(required: Market) -> None:
    client, seller = required.client, required.seller
    clean = await create_listing(
        client, seller=seller, category_id=required.category_id, title="Plain wooden chair"
    )

    held = await act(
        client, who=seller, action="publish", listing_id=clean["id"], expected="pending_review"
    )

    assert held["status_reason"]
    assert sorted(held["allowed_actions"]) == ["archive"]
    assert await search_ids(client) == []
    assert_problem(await get_listing(client, listing_id=clean["id"]), 404, "not_found")
    queued = await _queue(required, status="pending_review")
    assert [item["id"] for item in queued] == [clean["id"]]
    assert queued[0]["status_reason"] == held["status_reason"]


async def test_required_mode_goes_live_on_approval(required: Market) -> None:
    client, seller, admin = required.client, required.seller, required.admin
    draft = await create_listing(client, seller=seller, category_id=required.category_id)
    await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )
    clock.advance(timedelta(minutes=5))

    approved = await act(
        client, who=admin, action="approve", listing_id=draft["id"], expected="active"
    )

    assert approved["status_reason"] is None
    assert draft["published_at"] is None  # issue 15: not published before its approval
    assert approved["published_at"] > draft["created_at"]
    assert await search_ids(client) == [draft["id"]]
    [entry] = await audit_log(client, admin=admin, target_type="listing", target_id=draft["id"])
    assert entry["action"] == "listing.approve"
    assert entry["actor_id"] == admin.user_id
    assert entry["details"] == {"from": "pending_review", "to": "active"}


async def test_required_mode_reviews_content_edits_but_not_stock_or_price(
    required: Market,
) -> None:
    client, seller, admin = required.client, required.seller, required.admin
    draft = await create_listing(
        client, seller=seller, category_id=required.category_id, title="Oak table"
    )
    await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )
    await act(client, who=admin, action="approve", listing_id=draft["id"], expected="active")

    repriced = await patch_listing(
        client, seller=seller, listing_id=draft["id"], price=usd(4500), quantity=2
    )
    assert repriced["status"] == "active"

    retitled = await patch_listing(
        client, seller=seller, listing_id=draft["id"], title="Solid oak table"
    )

    assert retitled["status"] == "pending_review"
    assert retitled["status_reason"]
    assert await search_ids(client) == []
    await act(client, who=admin, action="approve", listing_id=draft["id"], expected="active")
    assert await search_ids(client) == [draft["id"]]


async def test_required_mode_rejection_and_resubmission(required: Market) -> None:
    client, seller, admin = required.client, required.seller, required.admin
    draft = await create_listing(client, seller=seller, category_id=required.category_id)
    await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )
    rejected = await client.post(
        f"{ADMIN_LISTINGS}/{draft['id']}/reject",
        json={"reason": "Photos are missing"},
        headers=admin.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert (await read_own_listing(client, seller=seller, listing_id=draft["id"]))[
        "status_reason"
    ] == ("Photos are missing")

    again = await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )

    assert again["status_reason"] != "Photos are missing"
    actions = [
        e["action"]
        for e in await audit_log(client, admin=admin, target_type="listing", target_id=draft["id"])
    ]
    assert actions == ["listing.reject"]


# --- prohibited terms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"title": "Replica handbag"}, id="title"),
        pytest.param({"title": "STOLEN bike, cheap"}, id="title-upper-case"),
        pytest.param({"description": "A perfect counterfeit of the real thing"}, id="description"),
        pytest.param({"attributes": {"brand": "knockoff"}}, id="attribute-value"),
    ],
)
async def test_auto_mode_holds_a_listing_with_a_default_prohibited_term(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str, fields: Json
) -> None:
    draft = await create_listing(client, seller=seller, category_id=category_id, **fields)

    held = await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )

    assert held["status_reason"]
    assert await search_ids(client) == []


async def test_the_prohibited_terms_list_is_a_setting(durian_banned: Market) -> None:
    client, seller = durian_banned.client, durian_banned.seller
    fruit = await create_listing(
        client, seller=seller, category_id=durian_banned.category_id, title="Fresh Durian"
    )
    replica = await create_listing(
        client, seller=seller, category_id=durian_banned.category_id, title="Replica ship model"
    )

    held = await act(
        client, who=seller, action="publish", listing_id=fruit["id"], expected="pending_review"
    )
    live = await act(
        client, who=seller, action="publish", listing_id=replica["id"], expected="active"
    )

    assert held["status_reason"]
    assert live["status_reason"] is None
    assert await search_ids(client) == [replica["id"]]
    edited = await patch_listing(
        client, seller=seller, listing_id=replica["id"], description="Smells a bit like durian"
    )
    assert edited["status"] == "pending_review"
    assert await search_ids(client) == []


async def test_a_paused_listing_stays_paused_through_moderation(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(
        client, seller=seller, category_id=category_id, title="Brass clock"
    )
    await act(client, who=seller, action="pause", listing_id=listing["id"], expected="paused")

    edited = await patch_listing(
        client, seller=seller, listing_id=listing["id"], title="Brass replica clock"
    )
    if edited["status"] == "pending_review":
        approved = await call(client, who=admin, action="approve", listing_id=listing["id"])
        assert approved.status_code == 200, approved.text

    # The seller paused it; a moderator's approval must not put it on sale behind their back.
    after = (await get_listing(client, listing_id=listing["id"], who=seller)).json()
    assert after["status"] == "paused"
    assert await search_ids(client) == []
    public = (await get_listing(client, listing_id=listing["id"])).json()
    assert (public["status"], public["for_sale"]) == ("paused", False)  # issue 15: readable


async def test_a_held_listing_edited_clean_still_waits_for_an_admin(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    draft = await create_listing(
        client, seller=seller, category_id=category_id, title="Replica clock"
    )
    await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )

    edited = await patch_listing(
        client, seller=seller, listing_id=draft["id"], title="Antique clock"
    )

    assert edited["status"] == "pending_review"
    assert await search_ids(client) == []
    await act(client, who=admin, action="approve", listing_id=draft["id"], expected="active")
    assert await search_ids(client, q="antique") == [draft["id"]]


# --- the admin queue --------------------------------------------------------------------------


async def test_the_queue_filters_by_state_oldest_first(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    market = Market(client, admin, seller, category_id)
    first = await create_listing(
        client, seller=seller, category_id=category_id, title="Replica one"
    )
    live = await live_listing(client, seller=seller, category_id=category_id, title="Clean lamp")
    second = await create_listing(
        client, seller=seller, category_id=category_id, title="Replica two"
    )
    for listing in (second, first):
        await act(
            client,
            who=seller,
            action="publish",
            listing_id=listing["id"],
            expected="pending_review",
        )

    pending = await _queue(market, status="pending_review")
    active = await _queue(market, status="active")
    everything = await _queue(market)

    assert [item["id"] for item in pending] == [first["id"], second["id"]]
    assert all(item["report_count"] == 0 for item in pending)
    assert [item["id"] for item in active] == [live["id"]]
    assert [item["id"] for item in everything] == [first["id"], live["id"], second["id"]]
    assert sorted(pending[0]["allowed_actions"]) == ["approve", "reject", "remove"]


async def test_the_queue_rejects_an_unknown_state(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    response = await client.get(ADMIN_LISTINGS, params={"status": "lost"}, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("who", ["buyer", "seller", "anonymous"])
async def test_only_admins_see_the_queue(
    client: httpx.AsyncClient, seller: LoggedIn, buyer: LoggedIn, who: str
) -> None:
    headers = {"buyer": buyer.headers, "seller": seller.headers, "anonymous": {}}[who]

    response = await client.get(
        ADMIN_LISTINGS, params={"status": "pending_review"}, headers=headers
    )

    if who == "anonymous":
        assert_problem(response, 401, "invalid_token")
    else:
        assert_problem(response, 403, "admin_required")


async def test_every_moderation_decision_is_audited(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    draft = await create_listing(
        client, seller=seller, category_id=category_id, title="Replica vase"
    )
    await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )
    await act(client, who=admin, action="reject", listing_id=draft["id"], expected="rejected")
    await patch_listing(client, seller=seller, listing_id=draft["id"], title="Ming-style vase")
    await act(client, who=seller, action="publish", listing_id=draft["id"], expected="active")
    await act(client, who=admin, action="remove", listing_id=draft["id"], expected="removed")

    entries = await audit_log(client, admin=admin, target_type="listing", target_id=draft["id"])

    assert [(e["action"], e["details"], e["reason"]) for e in entries] == [
        ("listing.remove", {"from": "active", "to": "removed"}, "remove in a test"),
        ("listing.reject", {"from": "pending_review", "to": "rejected"}, "reject in a test"),
    ]
    assert {e["actor_id"] for e in entries} == {admin.user_id}


async def test_an_admin_cannot_approve_what_is_not_waiting(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    draft = await create_listing(client, seller=seller, category_id=category_id)
    live = await live_listing(client, seller=seller, category_id=category_id)

    for listing_id in (draft["id"], live["id"]):
        for action in ("approve", "reject"):
            response = await (
                client.post(f"{ADMIN_LISTINGS}/{listing_id}/approve", headers=admin.headers)
                if action == "approve"
                else client.post(
                    f"{ADMIN_LISTINGS}/{listing_id}/reject",
                    json={"reason": "no"},
                    headers=admin.headers,
                )
            )
            assert_problem(response, 409, "invalid_transition")
    assert (await get_listing(client, listing_id=draft["id"], who=seller)).json()[
        "status"
    ] == "draft"
    assert (await get_listing(client, listing_id=live["id"])).json()["status"] == "active"
    assert await audit_log(client, admin=admin, target_type="listing", target_id=draft["id"]) == []
    # A refused removal of a removed listing is 409 as well.
    await act(client, who=admin, action="remove", listing_id=live["id"], expected="removed")
    again = await client.post(
        f"{ADMIN_LISTINGS}/{live['id']}/remove", json={"reason": "again"}, headers=admin.headers
    )
    assert_problem(again, 409, "invalid_transition")
