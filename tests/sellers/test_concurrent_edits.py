"""The shop profile carries an ETag; PATCH /v1/sellers/me honours If-Match (API.md,
concurrent edits)."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import clock
from app.sellers import service
from tests.core.conditional import (
    assert_conditional_edits,
    assert_conditional_reads,
    assert_one_of_two_editors_wins,
    etag_of,
    patch,
    read,
)
from tests.factories.accounts import LoggedIn, admin_user, register_and_login
from tests.factories.api import assert_problem, json_ok
from tests.factories.sellers import MY_SELLER, apply_ok, decide_ok

EDITS = [
    {"description": "Now with chargers"},
    {"contact_phone": "+49 30 7654321"},
    {"contact_email": "orders@example.com"},
    {"description": "Refurbished only"},
]


@pytest.fixture
async def applicant(client: httpx.AsyncClient) -> LoggedIn:
    user = await register_and_login(client, display_name="Ada")
    await apply_ok(client, who=user)
    return user


async def test_the_profile_is_edited_only_as_last_read(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    await assert_conditional_reads(client, MY_SELLER, applicant.headers)
    await assert_conditional_edits(client, MY_SELLER, applicant.headers, EDITS)


async def test_a_new_payout_account_changes_the_tag_though_its_mask_does_not(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    """The answer shows the account masked (its last four characters): the tag covers the
    stored profile, so an editor who read the old account still gets 412."""
    clock.freeze()  # not even the update time tells the two accounts apart
    before = await read(client, MY_SELLER, applicant.headers)
    stale = etag_of(before)

    changed = await patch(
        client, MY_SELLER, applicant.headers, {"payout_account": "DE02120300000000203000"}
    )

    assert changed.json()["payout_account_masked"] == before.json()["payout_account_masked"]
    assert etag_of(changed) != stale
    refused = await patch(
        client, MY_SELLER, applicant.headers, {"description": "x"}, if_match=stale
    )
    assert_problem(refused, 412, "precondition_failed")


async def test_an_admins_decision_makes_the_tag_stale(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_user(client, session)
    user = await register_and_login(client)
    seller_id = (await apply_ok(client, who=user))["id"]
    tag = etag_of(await read(client, MY_SELLER, user.headers))

    await decide_ok(client, admin=admin, seller_id=seller_id, action="approve")

    refused = await patch(client, MY_SELLER, user.headers, {"description": "x"}, if_match=tag)
    assert_problem(refused, 412, "precondition_failed")
    assert json_ok(await read(client, MY_SELLER, user.headers))["description"] != "x"


async def test_without_a_profile_the_answer_is_still_not_found(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client)

    response = await patch(client, MY_SELLER, user.headers, {"description": "x"}, if_match="*")

    assert_problem(response, 404, "not_found")


async def test_the_spec_documents_the_tag_and_the_precondition(client: httpx.AsyncClient) -> None:
    item = (await client.get("/openapi.json")).json()["paths"][MY_SELLER]

    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    assert "304" in item["get"]["responses"]
    assert "ETag" in item["patch"]["responses"]["200"]["headers"]
    assert "`precondition_failed`" in item["patch"]["responses"]["412"]["description"]
    assert "If-Match" in [p["name"] for p in item["patch"]["parameters"]]


@pytest.mark.postgres_only
async def test_of_two_editors_with_the_same_tag_exactly_one_wins(
    committed_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await register_and_login(committed_client)
    await apply_ok(committed_client, who=user)

    await assert_one_of_two_editors_wins(
        committed_client,
        MY_SELLER,
        user.headers,
        ({"description": "First editor"}, {"contact_phone": "+49 30 1111111"}),
        service,
        monkeypatch,
    )
