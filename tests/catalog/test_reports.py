"""Reports: any signed-in user reports a listing they can see, once; admins work through
the reported listings most-reported first, and dismiss reports or remove the listing, which
each reporter hears of."""

import uuid

import httpx
import pytest

from tests.factories.accounts import LoggedIn, buyer_user
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.catalog import ADMIN_LISTINGS, LISTINGS, create_listing, live_listing
from tests.factories.notifications import inbox

REASONS = ["counterfeit", "ip_infringement", "prohibited", "fraud", "other"]


async def _report(
    client: httpx.AsyncClient, who: LoggedIn | None, listing_id: str, **body: object
) -> httpx.Response:
    return await client.post(
        f"{LISTINGS}/{listing_id}/reports",
        json={"reason": "counterfeit", **body},
        headers=who.headers if who is not None else {},
    )


async def _reported_queue(client: httpx.AsyncClient, admin: LoggedIn, **params: object) -> Json:
    response = await client.get(
        ADMIN_LISTINGS, params={"reported": "true", **params}, headers=admin.headers
    )
    page: Json = json_ok(response)
    return page


@pytest.mark.parametrize("who", ["buyer", "other_seller", "admin"])
@pytest.mark.parametrize("reason", REASONS)
async def test_any_signed_in_user_reports_a_live_listing(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    other_seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
    who: str,
    reason: str,
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    reporter = {"buyer": buyer, "other_seller": other_seller, "admin": admin}[who]

    response = await _report(client, reporter, listing["id"], reason=reason, details="Looks fake")

    assert response.status_code == 201, response.text
    report = response.json()
    uuid.UUID(report["id"])
    assert report["listing_id"] == listing["id"]
    assert report["reporter_id"] == reporter.user_id
    assert report["reason"] == reason
    assert report["details"] == "Looks fake"
    assert report["created_at"]
    queue = await _reported_queue(client, admin)
    assert [(i["id"], i["report_count"]) for i in queue["items"]] == [(listing["id"], 1)]


async def test_a_second_report_by_the_same_user_is_409(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, buyer: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    assert (await _report(client, buyer, listing["id"])).status_code == 201

    again = await _report(client, buyer, listing["id"], reason="fraud")

    assert_problem(again, 409, "already_reported")
    queue = await _reported_queue(client, admin)
    assert [i["report_count"] for i in queue["items"]] == [1]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"reason": "ugly"}, id="unknown-reason"),
        pytest.param({"reason": None}, id="null-reason"),
        pytest.param({"reason": "other", "details": "x" * 2001}, id="long-details"),
        pytest.param({"reason": "other", "details": "a\u0000b"}, id="nul-details"),
        pytest.param({"reason": "other", "listing_id": str(uuid.uuid4())}, id="extra-field"),
    ],
)
async def test_a_bad_report_is_422(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
    body: Json,
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)

    response = await client.post(
        f"{LISTINGS}/{listing['id']}/reports", json=body, headers=buyer.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await _reported_queue(client, admin))["items"] == []


async def test_a_missing_reason_is_422(
    client: httpx.AsyncClient, seller: LoggedIn, buyer: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)

    response = await client.post(
        f"{LISTINGS}/{listing['id']}/reports", json={"details": "hm"}, headers=buyer.headers
    )

    problem = assert_problem(response, 422, "validation_error")
    assert ["body", "reason"] in [e["loc"] for e in problem["errors"]]  # type: ignore[union-attr]


@pytest.mark.parametrize("state", ["draft", "paused", "unknown"])
async def test_a_listing_the_reporter_cannot_see_is_404(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
    state: str,
) -> None:
    if state == "unknown":
        listing_id = str(uuid.uuid4())
    else:
        listing = await create_listing(client, seller=seller, category_id=category_id)
        listing_id = listing["id"]
        if state == "paused":
            published = await client.post(
                f"{LISTINGS}/{listing_id}/publish", headers=seller.headers
            )
            assert published.status_code == 200, published.text
            paused = await client.post(f"{LISTINGS}/{listing_id}/pause", headers=seller.headers)
            assert paused.json()["status"] == "paused"

    response = await _report(client, buyer, listing_id)

    assert_problem(response, 404, "not_found")
    assert (await _reported_queue(client, admin))["items"] == []


async def test_anonymous_cannot_report(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)

    response = await _report(client, None, listing["id"])

    assert_problem(response, 401, "invalid_token")
    assert (await _reported_queue(client, admin))["items"] == []


async def test_the_reported_queue_is_ordered_by_report_count(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    once = await live_listing(client, seller=seller, category_id=category_id, title="Reported once")
    thrice = await live_listing(
        client, seller=seller, category_id=category_id, title="Reported thrice"
    )
    never = await live_listing(
        client, seller=seller, category_id=category_id, title="Never reported"
    )
    twice = await live_listing(
        client, seller=seller, category_id=category_id, title="Reported twice"
    )
    reporters = [await buyer_user(client) for _ in range(3)]
    for listing, count in ((once, 1), (thrice, 3), (twice, 2)):
        for reporter in reporters[:count]:
            assert (await _report(client, reporter, listing["id"])).status_code == 201

    queue = await _reported_queue(client, admin)

    assert [(i["id"], i["report_count"]) for i in queue["items"]] == [
        (thrice["id"], 3),
        (twice["id"], 2),
        (once["id"], 1),
    ]
    assert never["id"] not in [i["id"] for i in queue["items"]]
    assert queue["next_cursor"] is None

    # The same order page by page.
    walked: list[str] = []
    cursor = None
    for _ in range(5):
        page = await _reported_queue(
            client, admin, limit=1, **({"cursor": cursor} if cursor else {})
        )
        walked += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [thrice["id"], twice["id"], once["id"]]


@pytest.mark.parametrize("spelling", ["1", "yes", "on", "True"])
async def test_the_reported_filter_takes_true_or_false_only(
    client: httpx.AsyncClient, admin: LoggedIn, spelling: str
) -> None:
    """A query-string boolean is `true` or `false`, as OpenAPI clients write it."""
    response = await client.get(
        ADMIN_LISTINGS, params={"reported": spelling}, headers=admin.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await _reported_queue(client, admin))["items"] == []


async def test_the_reports_of_a_listing_oldest_first(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    other = await live_listing(client, seller=seller, category_id=category_id)
    first, second = await buyer_user(client), await buyer_user(client)
    assert (await _report(client, first, listing["id"], reason="fraud")).status_code == 201
    assert (
        await _report(client, second, listing["id"], reason="other", details="odd")
    ).status_code == 201
    assert (await _report(client, first, other["id"])).status_code == 201

    response = await client.get(f"{ADMIN_LISTINGS}/{listing['id']}/reports", headers=admin.headers)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(r["reporter_id"], r["reason"], r["details"]) for r in items] == [
        (first.user_id, "fraud", None),
        (second.user_id, "other", "odd"),
    ]
    assert all(r["listing_id"] == listing["id"] for r in items)


async def test_the_reports_of_an_unknown_listing_are_404(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    response = await client.get(f"{ADMIN_LISTINGS}/{uuid.uuid4()}/reports", headers=admin.headers)

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("who", ["buyer", "seller", "anonymous"])
async def test_only_admins_see_reports(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
    who: str,
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    assert (await _report(client, buyer, listing["id"])).status_code == 201
    headers = {"buyer": buyer.headers, "seller": seller.headers, "anonymous": {}}[who]

    queue = await client.get(ADMIN_LISTINGS, params={"reported": "true"}, headers=headers)
    reports = await client.get(f"{ADMIN_LISTINGS}/{listing['id']}/reports", headers=headers)

    for response in (queue, reports):
        if who == "anonymous":
            assert_problem(response, 401, "invalid_token")
        else:
            assert_problem(response, 403, "admin_required")


async def test_reports_survive_in_the_admin_view(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    assert (await _report(client, buyer, listing["id"])).status_code == 201
    removed = await client.post(
        f"{ADMIN_LISTINGS}/{listing['id']}/remove",
        json={"reason": "counterfeit confirmed"},
        headers=admin.headers,
    )
    assert removed.status_code == 200, removed.text

    assert removed.json()["report_count"] == 1
    queue = await _reported_queue(client, admin, status="removed")
    assert [(i["id"], i["status"]) for i in queue["items"]] == [(listing["id"], "removed")]


# --- issue 15: a report ends, and its reporter hears how ---------------------------------


async def _reports(client: httpx.AsyncClient, admin: LoggedIn, listing_id: str) -> list[Json]:
    response = await client.get(f"{ADMIN_LISTINGS}/{listing_id}/reports", headers=admin.headers)
    items: list[Json] = json_ok(response)["items"]
    return items


async def _dismiss(
    client: httpx.AsyncClient, who: LoggedIn, listing_id: str, **body: object
) -> httpx.Response:
    return await client.post(
        f"{ADMIN_LISTINGS}/{listing_id}/reports/dismiss", json=body, headers=who.headers
    )


async def _outcomes(client: httpx.AsyncClient, who: LoggedIn) -> list[Json]:
    return [n for n in await inbox(client, who=who) if n["type"].startswith("listing_report.")]


async def test_an_admin_dismisses_a_listings_reports_and_each_reporter_hears_it(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    category_id: str,
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    first, second = await buyer_user(client), await buyer_user(client)
    for reporter in (first, second):
        assert (await _report(client, reporter, listing["id"])).status_code == 201

    dismissed = json_ok(await _dismiss(client, admin, listing["id"], reason="It is genuine"))

    assert dismissed["id"] == listing["id"]
    assert dismissed["status"] == "active"
    assert dismissed["report_count"] == 0
    assert (await _reported_queue(client, admin))["items"] == []
    reports = await _reports(client, admin, listing["id"])
    assert {(r["status"], r["resolution_reason"]) for r in reports} == {
        ("dismissed", "It is genuine")
    }
    assert all(r["resolved_at"] for r in reports)
    for reporter in (first, second):
        (notice,) = await _outcomes(client, reporter)
        assert notice["type"] == "listing_report.dismissed"
        assert (notice["resource_type"], notice["resource_id"]) == ("listing", listing["id"])
        assert listing["title"] in notice["body"]
        assert notice["data"]["reason"] == "It is genuine"
    # The shop hears nothing of who reported it; the decision is in the audit log.
    assert await _outcomes(client, seller) == []
    audit = json_ok(
        await client.get(
            "/v1/admin/audit-log",
            params={"target_type": "listing", "target_id": listing["id"]},
            headers=admin.headers,
        )
    )
    (entry,) = audit["items"]
    assert entry["action"] == "listing.reports_dismissed"
    assert entry["actor_id"] == admin.user_id
    assert entry["reason"] == "It is genuine"

    # Nothing open is left to dismiss.
    assert_problem(await _dismiss(client, admin, listing["id"]), 409, "report_not_open")


async def test_only_the_named_open_reports_are_dismissed(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    first, second = await buyer_user(client), await buyer_user(client)
    for reporter in (first, second):
        assert (await _report(client, reporter, listing["id"])).status_code == 201
    kept, dropped = await _reports(client, admin, listing["id"])

    answer = await _dismiss(client, admin, listing["id"], report_ids=[dropped["id"]])

    assert json_ok(answer)["report_count"] == 1
    assert [r["status"] for r in await _reports(client, admin, listing["id"])] == [
        "open",
        "dismissed",
    ]
    assert await _outcomes(client, first) == []
    assert [n["type"] for n in await _outcomes(client, second)] == ["listing_report.dismissed"]
    for again in ([dropped["id"]], [str(uuid.uuid4())], [kept["id"], dropped["id"]]):
        assert_problem(
            await _dismiss(client, admin, listing["id"], report_ids=again), 409, "report_not_open"
        )
    assert [r["status"] for r in await _reports(client, admin, listing["id"])] == [
        "open",
        "dismissed",
    ]


async def test_removing_a_listing_upholds_its_open_reports(
    client: httpx.AsyncClient, admin: LoggedIn, seller: LoggedIn, category_id: str
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    early, late = await buyer_user(client), await buyer_user(client)
    assert (await _report(client, early, listing["id"])).status_code == 201
    json_ok(await _dismiss(client, admin, listing["id"]))
    assert (await _report(client, late, listing["id"])).status_code == 201

    removed = await client.post(
        f"{ADMIN_LISTINGS}/{listing['id']}/remove",
        json={"reason": "counterfeit confirmed"},
        headers=admin.headers,
    )

    assert removed.status_code == 200, removed.text
    assert [r["status"] for r in await _reports(client, admin, listing["id"])] == [
        "dismissed",
        "upheld",
    ]
    (notice,) = await _outcomes(client, late)
    assert notice["type"] == "listing_report.upheld"
    assert (notice["resource_type"], notice["resource_id"]) == ("listing", listing["id"])
    assert [n["type"] for n in await _outcomes(client, early)] == ["listing_report.dismissed"]


@pytest.mark.parametrize("who", ["buyer", "seller"])
async def test_only_admins_dismiss_reports(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
    who: str,
) -> None:
    listing = await live_listing(client, seller=seller, category_id=category_id)
    assert (await _report(client, buyer, listing["id"])).status_code == 201

    response = await _dismiss(client, {"buyer": buyer, "seller": seller}[who], listing["id"])

    assert_problem(response, 403, "admin_required")
    assert_problem(await _dismiss(client, admin, str(uuid.uuid4())), 404, "not_found")
    assert [r["status"] for r in await _reports(client, admin, listing["id"])] == ["open"]
