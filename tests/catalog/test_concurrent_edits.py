"""Listings carry an ETag; PATCH honours If-Match (API.md, concurrent edits)."""

import uuid

import httpx
import pytest

from app.catalog import service
from app.core.db import Database
from tests.core.conditional import (
    Json,
    assert_conditional_edits,
    assert_conditional_reads,
    assert_one_of_two_editors_wins,
    etag_of,
    patch,
    read,
)
from tests.factories.accounts import LoggedIn, create_user, login, register_and_login
from tests.factories.api import assert_problem, json_ok
from tests.factories.catalog import (
    LISTINGS,
    MY_LISTINGS,
    create_listing,
    leaf_category,
    live_listing,
    publish,
)
from tests.factories.sellers import apply_ok

EDITS: list[Json] = [
    {"title": "Green mug"},
    {"quantity": 9},
    {"description": "Holds 250 ml"},
    {"title": "Red"},
]


async def test_a_draft_listing_is_edited_only_as_last_read(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)
    url = f"{LISTINGS}/{listing['id']}"
    own = f"{MY_LISTINGS}/{listing['id']}"  # issue 15: the seller's own view has its own URL

    await assert_conditional_reads(client, url, seller.headers)
    await assert_conditional_reads(client, own, seller.headers)
    await assert_conditional_edits(client, url, seller.headers, EDITS, read_url=own)


async def test_the_public_pages_tag_is_accepted_in_if_match_too(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    url = f"{LISTINGS}/{listing['id']}"
    public_tag = etag_of(await read(client, url, {}))

    applied = await patch(client, url, seller.headers, {"title": "Green mug"}, public_tag)
    stale = await patch(client, url, seller.headers, {"title": "Red mug"}, public_tag)

    assert json_ok(applied)["title"] == "Green mug"
    assert_problem(stale, 412, "precondition_failed")


async def test_a_live_listing_is_tagged_for_everyone_who_may_read_it(
    client: httpx.AsyncClient, seller: LoggedIn, buyer: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(
        client, seller=seller, category_id=category_id, low_stock_threshold=2
    )
    url = f"{LISTINGS}/{listing['id']}"

    await assert_conditional_reads(client, url, {})
    await assert_conditional_reads(client, url, buyer.headers)
    # Issue 15: the public page is the same for everyone, its seller included (who is shown
    # more at their own URL: another representation, another strong tag).
    public = etag_of(await read(client, url, {}))
    assert etag_of(await read(client, url, buyer.headers)) == public
    assert etag_of(await read(client, url, seller.headers)) == public
    own = etag_of(await read(client, f"{MY_LISTINGS}/{listing['id']}", seller.headers))
    assert own != public


async def test_a_change_by_another_way_makes_the_tag_stale(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)
    url = f"{LISTINGS}/{listing['id']}"
    tag = etag_of(await read(client, url, seller.headers))

    await publish(client, seller=seller, listing_id=listing["id"])  # not a PATCH, still a change

    refused = await patch(client, url, seller.headers, {"title": "Too late"}, if_match=tag)
    assert_problem(refused, 412, "precondition_failed")
    assert json_ok(await read(client, url, seller.headers))["title"] == listing["title"]


async def test_a_stale_tag_is_refused_before_anything_else_is_judged(
    client: httpx.AsyncClient, seller: LoggedIn, category_id: str
) -> None:
    """The precondition is evaluated first (RFC 9110 §13.2.2): an edit that would also be
    invalid still answers 412, so the client learns to read again first."""
    listing = await create_listing(client, seller=seller, category_id=category_id)
    url = f"{LISTINGS}/{listing['id']}"
    stale = etag_of(await read(client, url, seller.headers))
    json_ok(await client.patch(url, json={"quantity": 3}, headers=seller.headers))

    refused = await patch(
        client, url, seller.headers, {"category_id": str(uuid.uuid4())}, if_match=stale
    )

    assert_problem(refused, 412, "precondition_failed")


async def test_another_sellers_listing_stays_not_found_whatever_the_tag(
    client: httpx.AsyncClient, seller: LoggedIn, other_seller: LoggedIn, category_id: str
) -> None:
    listing = await create_listing(client, seller=seller, category_id=category_id)
    url = f"{LISTINGS}/{listing['id']}"
    tag = etag_of(await read(client, url, seller.headers))

    for if_match in (tag, "*"):
        response = await patch(client, url, other_seller.headers, {"title": "Mine"}, if_match)
        assert_problem(response, 404, "not_found")


async def test_the_spec_documents_the_tag_and_the_precondition(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    item = spec["paths"]["/v1/listings/{listing_id}"]

    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    assert "304" in item["get"]["responses"]
    assert "If-None-Match" in [p["name"] for p in item["get"]["parameters"]]
    assert "ETag" in item["patch"]["responses"]["200"]["headers"]
    assert "`precondition_failed`" in item["patch"]["responses"]["412"]["description"]
    if_match = next(p for p in item["patch"]["parameters"] if p["name"] == "If-Match")
    assert if_match["in"] == "header"
    assert if_match["required"] is False


@pytest.mark.postgres_only
async def test_of_two_editors_with_the_same_tag_exactly_one_wins(
    committed_client: httpx.AsyncClient,
    committed_database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with committed_database.session_scope() as session:
        admin_account = await create_user(session, is_admin=True)
    admin = await login(committed_client, email=admin_account.email)
    seller = await _approved(committed_client, admin)
    listing = await create_listing(
        committed_client,
        seller=seller,
        category_id=await leaf_category(committed_client, admin=admin),
    )

    await assert_one_of_two_editors_wins(
        committed_client,
        f"{LISTINGS}/{listing['id']}",
        seller.headers,
        ({"title": "First editor"}, {"quantity": 7}),
        service,
        monkeypatch,
        read_url=f"{MY_LISTINGS}/{listing['id']}",
    )


async def _approved(client: httpx.AsyncClient, admin: LoggedIn) -> LoggedIn:
    user = await register_and_login(client, display_name="Seller")
    seller_id = (await apply_ok(client, who=user))["id"]
    json_ok(await client.post(f"/v1/admin/sellers/{seller_id}/approve", headers=admin.headers))
    return user
