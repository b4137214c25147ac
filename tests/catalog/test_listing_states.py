"""The listing lifecycle through the seller's and the admin's eyes: every transition the
API documents, every illegal one refused with 409, and `allowed_actions` matching exactly
what the API then accepts."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx
import pytest

from app.core.clock import clock
from tests.factories.accounts import LoggedIn
from tests.factories.api import assert_problem, json_ok
from tests.factories.catalog import (
    LISTINGS,
    PNG_1X1,
    act,
    call,
    create_listing,
    get_listing,
    live_listing,
    patch_listing,
    read_admin_listing,
    read_own_listing,
    search_ids,
)

SELLER_ACTIONS = ("publish", "pause", "resume", "archive")
ADMIN_ACTIONS = ("approve", "reject", "remove")
STATES = (
    "draft",
    "pending_review",
    "active",
    "paused",
    "sold_out",
    "rejected",
    "archived",
    "removed",
)


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def test_publish_goes_live_with_a_fresh_published_at(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    draft = await create_listing(client, seller=seller, category_id=category_id)
    clock.advance(timedelta(minutes=10))  # well inside the token lifetime

    published = await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="active"
    )

    assert published["status_reason"] is None
    assert _at(published["published_at"]) >= _at(draft["created_at"]) + timedelta(minutes=10)
    assert sorted(published["allowed_actions"]) == ["archive", "pause"]
    assert await search_ids(client) == [draft["id"]]
    public = await get_listing(client, listing_id=draft["id"])
    assert public.status_code == 200, public.text
    assert public.json()["status"] == "active"


async def test_pause_and_resume(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)

    paused = await act(
        client, who=seller, action="pause", listing_id=listing["id"], expected="paused"
    )

    assert sorted(paused["allowed_actions"]) == ["archive", "resume"]
    assert await search_ids(client) == []
    # Issue 15: a listing that stops being for sale stays readable, marked so.
    public = json_ok(await get_listing(client, listing_id=listing["id"]))
    assert (public["status"], public["for_sale"]) == ("paused", False)

    resumed = await act(
        client, who=seller, action="resume", listing_id=listing["id"], expected="active"
    )

    assert sorted(resumed["allowed_actions"]) == ["archive", "pause"]
    assert await search_ids(client) == [listing["id"]]


async def test_quantity_zero_sells_out_and_a_restock_brings_it_back(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)

    sold_out = await patch_listing(client, seller=seller, listing_id=listing["id"], quantity=0)

    assert sold_out["status"] == "sold_out"
    assert sold_out["quantity"] == 0
    assert sorted(sold_out["allowed_actions"]) == ["archive"]
    assert await search_ids(client) == []
    assert_problem(
        await call(client, who=seller, action="pause", listing_id=listing["id"]),
        409,
        "invalid_transition",
    )

    restocked = await patch_listing(client, seller=seller, listing_id=listing["id"], quantity=3)

    assert restocked["status"] == "active"
    assert restocked["quantity"] == 3
    assert await search_ids(client) == [listing["id"]]


async def test_a_paused_listing_without_stock_resumes_sold_out(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    await act(client, who=seller, action="pause", listing_id=listing["id"], expected="paused")
    still_paused = await patch_listing(client, seller=seller, listing_id=listing["id"], quantity=0)
    assert still_paused["status"] == "paused"

    await act(client, who=seller, action="resume", listing_id=listing["id"], expected="sold_out")

    assert await search_ids(client) == []


async def test_publishing_without_stock_is_409(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    draft = await create_listing(client, seller=seller, category_id=category_id, quantity=0)
    assert draft["allowed_actions"] == ["archive"]

    response = await call(client, who=seller, action="publish", listing_id=draft["id"])

    assert_problem(response, 409, "invalid_transition")
    after = (await get_listing(client, listing_id=draft["id"], who=seller)).json()
    assert after["status"] == "draft"


async def test_archive_is_final(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)

    archived = await act(
        client, who=seller, action="archive", listing_id=listing["id"], expected="archived"
    )

    assert archived["allowed_actions"] == []
    assert await search_ids(client) == []
    public = json_ok(await get_listing(client, listing_id=listing["id"]))
    assert (public["status"], public["for_sale"]) == ("archived", False)
    for action in SELLER_ACTIONS:
        assert_problem(
            await call(client, who=seller, action=action, listing_id=listing["id"]),
            409,
            "invalid_transition",
        )
    edit = await client.patch(
        f"{LISTINGS}/{listing['id']}", json={"quantity": 9}, headers=seller.headers
    )
    assert_problem(edit, 409, "listing_not_editable")
    upload = await client.post(
        f"{LISTINGS}/{listing['id']}/images",
        files={"file": ("x.png", PNG_1X1, "image/png")},
        headers=seller.headers,
    )
    assert_problem(upload, 409, "listing_not_editable")
    after = (await get_listing(client, listing_id=listing["id"], who=seller)).json()
    assert after["status"] == "archived"
    assert after["quantity"] == listing["quantity"]
    assert after["images"] == []


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("draft", "pause"),
        ("draft", "resume"),
        ("active", "publish"),
        ("active", "resume"),
        ("paused", "publish"),
        ("paused", "pause"),
    ],
)
async def test_illegal_seller_transitions_are_409(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str, state: str, action: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)
    if state != "draft":
        await act(client, who=seller, action="publish", listing_id=listing["id"], expected="active")
    if state == "paused":
        await act(client, who=seller, action="pause", listing_id=listing["id"], expected="paused")

    response = await call(client, who=seller, action=action, listing_id=listing["id"])

    assert_problem(response, 409, "invalid_transition")
    assert (await get_listing(client, listing_id=listing["id"], who=seller)).json()[
        "status"
    ] == state


async def test_a_prohibited_term_holds_the_listing_for_review(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    other_seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
) -> None:
    draft = await create_listing(
        client, seller=seller, category_id=category_id, title="Replica watch, like real"
    )

    held = await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )

    assert held["status_reason"]
    assert "replica" not in held["status_reason"].lower()  # the term is not echoed
    assert sorted(held["allowed_actions"]) == ["archive"]
    assert await search_ids(client) == []
    assert await search_ids(client, q="watch") == []
    for outsider in (None, buyer, other_seller):
        response = await get_listing(client, listing_id=draft["id"], who=outsider)
        assert_problem(response, 404, "not_found")
        assert held["status_reason"] not in response.text
    admin_view = await read_admin_listing(client, admin=admin, listing_id=draft["id"])
    assert admin_view["status_reason"] == held["status_reason"]
    assert sorted(admin_view["allowed_actions"]) == ["approve", "reject", "remove"]

    approved = await act(
        client, who=admin, action="approve", listing_id=draft["id"], expected="active"
    )

    assert approved["status_reason"] is None
    assert await search_ids(client) == [draft["id"]]
    public = (await get_listing(client, listing_id=draft["id"], who=buyer)).json()
    assert "status_reason" not in public  # issue 15: the public view has no insider fields


async def test_a_rejected_listing_is_edited_and_published_again(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    draft = await create_listing(
        client, seller=seller, category_id=category_id, description="A counterfeit bag"
    )
    await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )
    without_reason = await client.post(
        f"/v1/admin/listings/{draft['id']}/reject", headers=admin.headers
    )
    empty_reason = await client.post(
        f"/v1/admin/listings/{draft['id']}/reject", json={"reason": ""}, headers=admin.headers
    )
    assert_problem(without_reason, 422, "validation_error")
    assert_problem(empty_reason, 422, "validation_error")

    rejected = await client.post(
        f"/v1/admin/listings/{draft['id']}/reject",
        json={"reason": "Counterfeit goods are not allowed"},
        headers=admin.headers,
    )

    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    mine = await read_own_listing(client, seller=seller, listing_id=draft["id"])
    assert mine["status"] == "rejected"
    assert mine["status_reason"] == "Counterfeit goods are not allowed"
    assert sorted(mine["allowed_actions"]) == ["archive", "publish"]
    assert await search_ids(client) == []

    edited = await patch_listing(
        client, seller=seller, listing_id=draft["id"], description="A genuine leather bag"
    )
    assert edited["status"] == "rejected"
    republished = await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="active"
    )

    assert republished["status_reason"] is None
    assert await search_ids(client) == [draft["id"]]


async def test_editing_a_live_listing_to_a_prohibited_term_sends_it_back_to_review(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(
        client, seller=seller, category_id=category_id, title="Vintage watch"
    )
    unchanged = await patch_listing(
        client, seller=seller, listing_id=listing["id"], price={"amount": 5, "currency": "USD"}
    )
    assert unchanged["status"] == "active"

    edited = await patch_listing(
        client, seller=seller, listing_id=listing["id"], title="Vintage replica watch"
    )

    assert edited["status"] == "pending_review"
    assert edited["status_reason"]
    assert await search_ids(client) == []
    assert_problem(await get_listing(client, listing_id=listing["id"]), 404, "not_found")
    await act(client, who=admin, action="approve", listing_id=listing["id"], expected="active")
    assert await search_ids(client) == [listing["id"]]


async def test_admin_remove_takes_a_listing_down_for_good(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    without_reason = await client.post(
        f"/v1/admin/listings/{listing['id']}/remove", headers=admin.headers
    )
    assert_problem(without_reason, 422, "validation_error")

    response = await client.post(
        f"/v1/admin/listings/{listing['id']}/remove",
        json={"reason": "Sold outside the platform"},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "removed"
    assert await search_ids(client) == []
    public = json_ok(await get_listing(client, listing_id=listing["id"]))
    assert (public["status"], public["for_sale"], public["description"]) == ("removed", False, "")
    mine = await read_own_listing(client, seller=seller, listing_id=listing["id"])
    assert mine["status"] == "removed"
    assert mine["status_reason"] == "Sold outside the platform"
    assert mine["allowed_actions"] == []
    edit = await client.patch(
        f"{LISTINGS}/{listing['id']}", json={"title": "Back again"}, headers=seller.headers
    )
    assert_problem(edit, 409, "listing_not_editable")
    for action in SELLER_ACTIONS:
        assert_problem(
            await call(client, who=seller, action=action, listing_id=listing["id"]),
            409,
            "invalid_transition",
        )
    audit = await client.get(
        "/v1/admin/audit-log",
        params={"target_type": "listing", "target_id": listing["id"]},
        headers=admin.headers,
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert entry["action"] == "listing.remove"
    assert entry["actor_id"] == admin.user_id
    assert entry["reason"] == "Sold outside the platform"
    assert entry["details"] == {"from": "active", "to": "removed"}


# --- allowed_actions is what the API accepts ----------------------------------------------------


Setup = Callable[[], Awaitable[str]]


def _arrangers(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> dict[str, Setup]:
    """For each state, a function making a fresh listing in that state (its id)."""

    async def draft() -> str:
        listing_id: str = (await create_listing(client, seller=seller, category_id=category_id))[
            "id"
        ]
        return listing_id

    async def pending_review() -> str:
        listing = await create_listing(
            client, seller=seller, category_id=category_id, title="Replica sneakers"
        )
        await act(
            client,
            who=seller,
            action="publish",
            listing_id=listing["id"],
            expected="pending_review",
        )
        listing_id: str = listing["id"]
        return listing_id

    async def active() -> str:
        listing_id = await draft()
        await act(client, who=seller, action="publish", listing_id=listing_id, expected="active")
        return listing_id

    async def paused() -> str:
        listing_id = await active()
        await act(client, who=seller, action="pause", listing_id=listing_id, expected="paused")
        return listing_id

    async def sold_out() -> str:
        listing_id = await active()
        assert (await patch_listing(client, seller=seller, listing_id=listing_id, quantity=0))[
            "status"
        ] == "sold_out"
        return listing_id

    async def rejected() -> str:
        listing_id = await pending_review()
        await act(client, who=admin, action="reject", listing_id=listing_id, expected="rejected")
        return listing_id

    async def archived() -> str:
        listing_id = await draft()
        await act(client, who=seller, action="archive", listing_id=listing_id, expected="archived")
        return listing_id

    async def removed() -> str:
        listing_id = await active()
        await act(client, who=admin, action="remove", listing_id=listing_id, expected="removed")
        return listing_id

    return {
        "draft": draft,
        "pending_review": pending_review,
        "active": active,
        "paused": paused,
        "sold_out": sold_out,
        "rejected": rejected,
        "archived": archived,
        "removed": removed,
    }


EXPECTED_ACTIONS = {
    # state: (the seller's actions, the admin's actions)
    "draft": ({"publish", "archive"}, {"remove"}),
    "pending_review": ({"archive"}, {"approve", "reject", "remove"}),
    "active": ({"pause", "archive"}, {"remove"}),
    "paused": ({"resume", "archive"}, {"remove"}),
    "sold_out": ({"archive"}, {"remove"}),
    "rejected": ({"publish", "archive"}, {"remove"}),
    "archived": (set(), set()),
    "removed": (set(), set()),
}


@pytest.mark.parametrize("role", ["seller", "admin"])
@pytest.mark.parametrize("state", STATES)
async def test_allowed_actions_are_exactly_what_the_api_accepts(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    category_id: str,
    state: str,
    role: str,
) -> None:
    arrange = _arrangers(client, admin, seller, category_id)[state]
    caller = {"seller": seller, "admin": admin}[role]
    candidates = SELLER_ACTIONS if role == "seller" else ADMIN_ACTIONS
    probe = await arrange()
    view = (
        await read_own_listing(client, seller=seller, listing_id=probe)
        if role == "seller"
        else await read_admin_listing(client, admin=admin, listing_id=probe)
    )
    assert view["status"] == state
    allowed = view["allowed_actions"]
    assert len(allowed) == len(set(allowed))
    assert set(allowed) == EXPECTED_ACTIONS[state][0 if role == "seller" else 1]

    for action in candidates:
        listing_id = await arrange()  # a fresh listing per attempt
        response = await call(client, who=caller, action=action, listing_id=listing_id)
        if action in allowed:
            assert response.status_code == 200, (action, response.text)
            assert response.json()["status"] != state, action
        else:
            assert_problem(response, 409, "invalid_transition")
            after = (await get_listing(client, listing_id=listing_id, who=seller)).json()
            assert after["status"] == state, action


async def test_admin_moderation_needs_an_admin(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
) -> None:
    draft = await create_listing(
        client, seller=seller, category_id=category_id, title="Replica bag"
    )
    await act(
        client, who=seller, action="publish", listing_id=draft["id"], expected="pending_review"
    )

    for who in (seller, buyer):
        for action in ADMIN_ACTIONS:
            assert_problem(
                await call(client, who=who, action=action, listing_id=draft["id"]),
                403,
                "admin_required",
            )
    anonymous = await client.post(f"/v1/admin/listings/{draft['id']}/approve")
    assert_problem(anonymous, 401, "invalid_token")
    assert (await get_listing(client, listing_id=draft["id"], who=seller)).json()[
        "status"
    ] == "pending_review"


async def test_admin_moderation_of_an_unknown_listing_is_404(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    for action in ADMIN_ACTIONS:
        response = await call(client, who=admin, action=action, listing_id=str(uuid.uuid4()))
        assert_problem(response, 404, "not_found")
