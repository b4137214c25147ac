"""/v1/admin/sellers: the review queue and the approve / reject / suspend / reinstate decisions,
each audited; and the applicant's side of them (roles, reasons, re-applying)."""

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user, me, register_and_login
from tests.factories.api import assert_problem, json_ok
from tests.factories.audit import audit_log
from tests.factories.sellers import (
    ADMIN_SELLERS,
    SELLERS,
    apply_ok,
    approve,
    decide,
    decide_ok,
    make_seller_in_state,
    my_profile,
    seller_application,
)


@pytest.fixture
async def admin(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    return await admin_user(client, session)


@pytest.fixture
async def applicant(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, display_name="Applicant")


@pytest.fixture
async def pending_id(client: httpx.AsyncClient, applicant: LoggedIn) -> str:
    seller_id: str = (await apply_ok(client, who=applicant))["id"]
    return seller_id


async def _queue(client: httpx.AsyncClient, admin: LoggedIn, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(ADMIN_SELLERS, params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    items: list[dict[str, Any]] = body["items"]
    return items


async def _admin_view(client: httpx.AsyncClient, admin: LoggedIn, seller_id: str) -> dict[str, Any]:
    body: dict[str, Any] = json_ok(
        await client.get(f"{ADMIN_SELLERS}/{seller_id}", headers=admin.headers)
    )
    return body


# --- who may review -------------------------------------------------------------------------

_ADMIN_CALLS = [
    ("GET", ""),
    ("GET", "/{id}"),
    ("POST", "/{id}/approve"),
    ("POST", "/{id}/reject"),
    ("POST", "/{id}/suspend"),
    ("POST", "/{id}/reinstate"),
]


@pytest.mark.parametrize("caller_state", ["none", "pending_review", "approved"])
@pytest.mark.parametrize(("method", "suffix"), _ADMIN_CALLS)
async def test_non_admin_is_403(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    pending_id: str,
    caller_state: str,
    method: str,
    suffix: str,
) -> None:
    caller, _ = await make_seller_in_state(client, admin=admin, state=caller_state)
    path = ADMIN_SELLERS + suffix.format(id=pending_id)
    body = {"reason": "because"} if method == "POST" else None

    response = await client.request(method, path, json=body, headers=caller.headers)

    assert_problem(response, 403, "admin_required")
    assert (await _admin_view(client, admin, pending_id))["status"] == "pending_review"
    assert await audit_log(client, admin=admin, target_id=pending_id, target_type="seller") == []


@pytest.mark.parametrize(("method", "suffix"), _ADMIN_CALLS)
async def test_anonymous_is_401(
    client: httpx.AsyncClient, admin: LoggedIn, pending_id: str, method: str, suffix: str
) -> None:
    path = ADMIN_SELLERS + suffix.format(id=pending_id)

    response = await client.request(method, path)

    assert_problem(response, 401, "invalid_token")
    assert (await _admin_view(client, admin, pending_id))["status"] == "pending_review"


# --- the queue ------------------------------------------------------------------------------


async def test_queue_lists_pending_applications_oldest_first(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    ids = []
    for name in ("First Shop", "Second Shop", "Third Shop", "Fourth Shop"):
        user = await register_and_login(client)
        ids.append((await apply_ok(client, who=user, shop_name=name))["id"])
    await approve(client, admin=admin, seller_id=ids[1])
    await decide_ok(client, admin=admin, seller_id=ids[3], action="reject", reason="Incomplete")

    pending = await _queue(client, admin, status="pending_review")

    assert [p["id"] for p in pending] == [ids[0], ids[2]]
    assert all(p["status"] == "pending_review" for p in pending)
    assert all(p["allowed_actions"] == ["approve", "reject"] for p in pending)
    assert [p["id"] for p in await _queue(client, admin)] == ids
    assert [p["id"] for p in await _queue(client, admin, status="approved")] == [ids[1]]
    assert [p["id"] for p in await _queue(client, admin, status="rejected")] == [ids[3]]
    assert await _queue(client, admin, status="suspended") == []


async def test_queue_pages_with_a_cursor(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    ids = []
    for _ in range(5):
        user = await register_and_login(client)
        ids.append((await apply_ok(client, who=user))["id"])

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"status": "pending_review", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(ADMIN_SELLERS, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 2
        seen.extend(p["id"] for p in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == ids
    assert pages == 3


async def test_queue_filters_by_country_and_shop_name(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    shops = {}
    for name, country in (
        ("Acme Shop", "DE"),
        ("Acme Outlet", "FR"),
        ("Bolt Books", "FR"),
    ):
        user = await register_and_login(client)
        shops[name] = (await apply_ok(client, who=user, shop_name=name, country=country))["id"]

    async def names(**params: Any) -> list[str]:
        items = await _queue(client, admin, status="pending_review", **params)
        return [p["shop_name"] for p in items]

    assert await names(country="FR") == ["Acme Outlet", "Bolt Books"]
    assert await names(country="DE") == ["Acme Shop"]
    assert await names(country="IT") == []
    assert await names(shop_name="acme") == ["Acme Shop", "Acme Outlet"]
    assert await names(shop_name="ACME") == ["Acme Shop", "Acme Outlet"]
    assert await names(shop_name="books") == ["Bolt Books"]
    assert await names(shop_name="acme", country="FR") == ["Acme Outlet"]
    assert await names(shop_name="zzz") == []
    # LIKE wildcards in the filter are literal characters, not patterns.
    assert await names(shop_name="%") == []
    assert await names(shop_name="_") == []
    # NUL was a 500 on PostgreSQL (it cannot compare such text); refused like a body's.
    response = await client.get(ADMIN_SELLERS, params={"shop_name": "a\x00"}, headers=admin.headers)
    assert_problem(response, 422, "validation_error")


async def test_queue_shop_name_filter_matches_the_name_as_written(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    """An admin types part of the shop's name as it is shown, spaces and punctuation included."""
    user = await register_and_login(client)
    seller_id = (await apply_ok(client, who=user, shop_name="Acme Shop"))["id"]

    for query in ("Acme Shop", "acme shop", "me Sh"):
        items = await _queue(client, admin, shop_name=query)
        assert [p["id"] for p in items] == [seller_id], query


@pytest.mark.parametrize(
    "params",
    [
        {"status": "waiting"},
        {"country": "fr"},
        {"country": "France"},
        {"limit": 0},
        {"limit": 101},
        {"shop_name": "x" * 81},
    ],
)
async def test_queue_rejects_bad_filters(
    client: httpx.AsyncClient, admin: LoggedIn, params: dict[str, Any]
) -> None:
    response = await client.get(ADMIN_SELLERS, params=params, headers=admin.headers)

    problem = assert_problem(response, 422, "validation_error")
    errors = problem["errors"]
    assert isinstance(errors, list)
    locs = [tuple(e["loc"]) for e in errors]
    assert locs == [("query", next(iter(params)))]


# --- approve --------------------------------------------------------------------------------


async def test_approve_makes_the_user_a_seller(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    response = await decide(client, admin=admin, seller_id=pending_id, action="approve")

    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["id"] == pending_id
    assert profile["status"] == "approved"
    assert profile["status_reason"] is None
    approved_at = datetime.fromisoformat(profile["approved_at"])
    assert approved_at >= datetime.fromisoformat(profile["created_at"])
    assert profile["allowed_actions"] == ["suspend"]
    account = await me(client, who=applicant)
    assert account["roles"] == ["buyer", "seller"]
    assert account["seller_status"] == "approved"
    own = await my_profile(client, who=applicant)
    assert own["status"] == "approved"
    assert own["approved_at"] == profile["approved_at"]
    assert own["allowed_actions"] == []
    assert pending_id not in [p["id"] for p in await _queue(client, admin, status="pending_review")]


async def test_approve_may_carry_a_note(
    client: httpx.AsyncClient, admin: LoggedIn, pending_id: str
) -> None:
    profile = await decide_ok(
        client, admin=admin, seller_id=pending_id, action="approve", reason="Documents verified"
    )

    assert profile["status"] == "approved"
    [entry] = await audit_log(client, admin=admin, target_id=pending_id, target_type="seller")
    assert entry["reason"] == "Documents verified"


# --- reject and re-apply --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [None, {}, {"reason": ""}, {"reason": None}, {"reason": "x" * 2001}, {"why": "no"}],
)
async def test_reject_needs_a_reason(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    pending_id: str,
    body: dict[str, Any] | None,
) -> None:
    response = await client.post(
        f"{ADMIN_SELLERS}/{pending_id}/reject", json=body, headers=admin.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await _admin_view(client, admin, pending_id))["status"] == "pending_review"
    assert await audit_log(client, admin=admin, target_id=pending_id, target_type="seller") == []


async def test_rejected_applicant_sees_the_reason_and_may_reapply(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    rejected = await decide_ok(
        client,
        admin=admin,
        seller_id=pending_id,
        action="reject",
        reason="The legal name is missing",
    )

    assert rejected["status"] == "rejected"
    assert rejected["allowed_actions"] == []  # re-applying is the applicant's move
    own = await my_profile(client, who=applicant)
    assert own["status"] == "rejected"
    assert own["status_reason"] == "The legal name is missing"
    assert own["allowed_actions"] == ["reapply"]
    assert own["approved_at"] is None
    account = await me(client, who=applicant)
    assert account["seller_status"] == "rejected"
    assert account["roles"] == ["buyer"]


async def test_reapplying_after_rejection_goes_back_to_review(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    await decide_ok(
        client, admin=admin, seller_id=pending_id, action="reject", reason="Shop name is misleading"
    )
    corrected = seller_application(
        shop_name="Honest Gadgets",
        legal_name="Ada King",
        country="GB",
        seller_type="business",
        payout_account="GB29NWBK60161331926819",
    )

    response = await client.post(SELLERS, json=corrected, headers=applicant.headers)

    assert response.status_code == 201, response.text
    profile = response.json()
    assert profile["id"] == pending_id
    assert profile["status"] == "pending_review"
    assert profile["status_reason"] is None
    assert profile["shop_name"] == "Honest Gadgets"
    assert profile["slug"] == "honest-gadgets"
    assert profile["legal_name"] == "Ada King"
    assert profile["country"] == "GB"
    assert profile["seller_type"] == "business"
    assert profile["payout_account_masked"].endswith("6819")
    assert "GB29NWBK60161331926819" not in response.text
    assert profile["allowed_actions"] == []
    assert await my_profile(client, who=applicant) == profile
    assert (await me(client, who=applicant))["seller_status"] == "pending_review"
    queue = await _queue(client, admin, status="pending_review")
    assert [p["id"] for p in queue] == [pending_id]
    # A second review can approve it.
    assert (await approve(client, admin=admin, seller_id=pending_id))["status"] == "approved"
    assert (await me(client, who=applicant))["roles"] == ["buyer", "seller"]


async def test_reapplying_with_a_taken_shop_name_is_409_and_keeps_the_rejection(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    other = await register_and_login(client)
    await apply_ok(client, who=other, shop_name="Taken Name")
    await decide_ok(client, admin=admin, seller_id=pending_id, action="reject", reason="Try again")

    response = await client.post(
        SELLERS, json=seller_application(shop_name="taken-name"), headers=applicant.headers
    )

    assert_problem(response, 409, "shop_name_taken")
    own = await my_profile(client, who=applicant)
    assert own["status"] == "rejected"
    assert own["status_reason"] == "Try again"
    assert (await me(client, who=applicant))["seller_status"] == "rejected"


async def test_reapplying_with_an_invalid_body_is_422_and_keeps_the_rejection(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    await decide_ok(client, admin=admin, seller_id=pending_id, action="reject", reason="Try again")

    response = await client.post(
        SELLERS, json=seller_application(country="Germany"), headers=applicant.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await my_profile(client, who=applicant))["status"] == "rejected"


# --- suspend and reinstate ------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}])
async def test_suspend_needs_a_reason(
    client: httpx.AsyncClient, admin: LoggedIn, pending_id: str, body: dict[str, Any] | None
) -> None:
    await approve(client, admin=admin, seller_id=pending_id)

    response = await client.post(
        f"{ADMIN_SELLERS}/{pending_id}/suspend", json=body, headers=admin.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await _admin_view(client, admin, pending_id))["status"] == "approved"


async def test_suspend_and_reinstate(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    approved = await approve(client, admin=admin, seller_id=pending_id)

    suspended = await decide_ok(
        client,
        admin=admin,
        seller_id=pending_id,
        action="suspend",
        reason="Counterfeit goods reported",
    )

    assert suspended["status"] == "suspended"
    assert suspended["status_reason"] == "Counterfeit goods reported"
    assert suspended["allowed_actions"] == ["reinstate"]
    account = await me(client, who=applicant)
    assert account["seller_status"] == "suspended"
    assert account["roles"] == ["buyer"]
    own = await my_profile(client, who=applicant)
    assert own["status"] == "suspended"
    assert own["status_reason"] == "Counterfeit goods reported"
    assert own["allowed_actions"] == []

    reinstated = await decide_ok(client, admin=admin, seller_id=pending_id, action="reinstate")

    assert reinstated["status"] == "approved"
    assert reinstated["status_reason"] is None
    # The shop's "joined" date is its first approval, not the reinstatement.
    assert reinstated["approved_at"] == approved["approved_at"]
    assert reinstated["allowed_actions"] == ["suspend"]
    account = await me(client, who=applicant)
    assert account["seller_status"] == "approved"
    assert account["roles"] == ["buyer", "seller"]


async def test_admin_who_is_also_a_seller_keeps_both_roles(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    seller_id = (await apply_ok(client, who=admin))["id"]
    await approve(client, admin=admin, seller_id=seller_id)
    assert (await me(client, who=admin))["roles"] == ["buyer", "seller", "admin"]

    await decide_ok(
        client, admin=admin, seller_id=seller_id, action="suspend", reason="Conflict of interest"
    )

    assert (await me(client, who=admin))["roles"] == ["buyer", "admin"]


# --- illegal moves --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("approved", "approve"),
        ("approved", "reject"),
        ("approved", "reinstate"),
        ("pending_review", "reinstate"),
        ("pending_review", "suspend"),
        ("rejected", "suspend"),
        ("rejected", "approve"),
        ("rejected", "reject"),
        ("rejected", "reinstate"),
        ("suspended", "suspend"),
        ("suspended", "approve"),
        ("suspended", "reject"),
    ],
)
async def test_illegal_transition_is_409(
    client: httpx.AsyncClient, admin: LoggedIn, state: str, action: str
) -> None:
    user, seller_id = await make_seller_in_state(client, admin=admin, state=state)
    assert seller_id is not None
    before = await _admin_view(client, admin, seller_id)
    audited = await audit_log(client, admin=admin, target_id=seller_id, target_type="seller")

    response = await decide(
        client, admin=admin, seller_id=seller_id, action=action, reason="A reason"
    )

    problem = assert_problem(response, 409, "invalid_transition")
    assert action in str(problem["detail"])
    assert await _admin_view(client, admin, seller_id) == before
    assert (
        await audit_log(client, admin=admin, target_id=seller_id, target_type="seller") == audited
    )
    assert (await me(client, who=user))["seller_status"] == state


@pytest.mark.parametrize("suffix", ["", "/approve", "/reject", "/suspend", "/reinstate"])
async def test_unknown_seller_is_404(
    client: httpx.AsyncClient, admin: LoggedIn, suffix: str
) -> None:
    method = "GET" if not suffix else "POST"
    body = {"reason": "why not"} if suffix else None

    response = await client.request(
        method, f"{ADMIN_SELLERS}/{uuid.uuid4()}{suffix}", json=body, headers=admin.headers
    )

    assert_problem(response, 404, "not_found")


async def test_malformed_seller_id_is_422(client: httpx.AsyncClient, admin: LoggedIn) -> None:
    response = await decide(client, admin=admin, seller_id="not-an-id", action="approve")

    assert_problem(response, 422, "validation_error")


# --- the audit log --------------------------------------------------------------------------


async def test_every_decision_is_audited(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, pending_id: str
) -> None:
    other_admin = await admin_user(client, session)
    await approve(client, admin=admin, seller_id=pending_id)
    await decide_ok(
        client, admin=other_admin, seller_id=pending_id, action="suspend", reason="Late shipments"
    )
    await decide_ok(
        client,
        admin=admin,
        seller_id=pending_id,
        action="reinstate",
        reason="Shipments on time again",
    )

    entries = await audit_log(client, admin=admin, target_id=pending_id, target_type="seller")

    assert [(e["action"], e["actor_id"], e["reason"], e["details"]) for e in entries] == [
        (
            "seller.reinstate",
            admin.user_id,
            "Shipments on time again",
            {"from": "suspended", "to": "approved"},
        ),
        (
            "seller.suspend",
            other_admin.user_id,
            "Late shipments",
            {"from": "approved", "to": "suspended"},
        ),
        ("seller.approve", admin.user_id, None, {"from": "pending_review", "to": "approved"}),
    ]
    for entry in entries:
        assert entry["target_type"] == "seller"
        assert entry["target_id"] == pending_id
        datetime.fromisoformat(entry["created_at"])
    times = [datetime.fromisoformat(e["created_at"]) for e in entries]
    assert times == sorted(times, reverse=True)


async def test_rejection_is_audited_and_reapplying_is_not_an_admin_decision(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    await decide_ok(
        client, admin=admin, seller_id=pending_id, action="reject", reason="Blurry documents"
    )
    await apply_ok(client, who=applicant)

    entries = await audit_log(client, admin=admin, target_id=pending_id, target_type="seller")

    assert len(entries) == 1
    [entry] = entries
    assert entry["action"] == "seller.reject"
    assert entry["actor_id"] == admin.user_id
    assert entry["reason"] == "Blurry documents"
    assert entry["details"] == {"from": "pending_review", "to": "rejected"}


async def test_audit_log_separates_sellers(
    client: httpx.AsyncClient, admin: LoggedIn, pending_id: str
) -> None:
    other = await register_and_login(client)
    other_id = (await apply_ok(client, who=other))["id"]
    await approve(client, admin=admin, seller_id=pending_id)
    await decide_ok(client, admin=admin, seller_id=other_id, action="reject", reason="No")

    mine = await audit_log(client, admin=admin, target_id=pending_id, target_type="seller")
    theirs = await audit_log(client, admin=admin, target_id=other_id, target_type="seller")

    assert [e["action"] for e in mine] == ["seller.approve"]
    assert [e["action"] for e in theirs] == ["seller.reject"]


async def test_audit_log_is_for_admins_only(
    client: httpx.AsyncClient, admin: LoggedIn, applicant: LoggedIn, pending_id: str
) -> None:
    await approve(client, admin=admin, seller_id=pending_id)

    response = await client.get(
        "/v1/admin/audit-log",
        params={"target_type": "seller", "target_id": pending_id},
        headers=applicant.headers,
    )

    assert_problem(response, 403, "admin_required")
