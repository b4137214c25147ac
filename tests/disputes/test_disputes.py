"""Disputes over HTTP: who may open one, bad input, the conversation's state machine,
evidence files, escalation, the worker deciding for a silent seller, the admin's decision and
the admin queue."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import LoggedIn, register_and_login, relogin
from tests.factories.api import Json, assert_problem, json_ok, new_key, parse_time, usd
from tests.factories.catalog import listing_for_sale
from tests.factories.disputes import (
    EVIDENCE_PNG,
    completed_order,
    get_dispute,
    post_dispute,
    post_dispute_message,
    post_resolve,
    shipped_order,
    upload_evidence,
)
from tests.factories.orders import Market, checkout, get_order, market, paid_order, post_cancel
from tests.factories.payments import amounts, balance, reconcile_ok
from tests.factories.sellers import approved_seller
from tests.factories.worker import sweep

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


async def opened(
    client: httpx.AsyncClient,
    m: Market,
    order_id: str,
    *,
    reason: str = "not_as_described",
    outcome: str = "refund_buyer",
    amount: int | None = None,
) -> Json:
    response = await post_dispute(
        client, who=m.buyer, order_id=order_id, reason=reason, outcome=outcome, amount=amount
    )
    dispute: Json = json_ok(response, 201)
    assert dispute["status"] == "open"
    return dispute


async def read(client: httpx.AsyncClient, who: LoggedIn, dispute_id: str) -> Json:
    found: Json = json_ok(await get_dispute(client, who=who, dispute_id=dispute_id))
    return found


async def escalate(client: httpx.AsyncClient, who: LoggedIn, dispute_id: str) -> httpx.Response:
    return await client.post(f"/v1/disputes/{dispute_id}/escalate", headers=who.headers)


def dispute_body(**overrides: object) -> Json:
    return {
        "reason": "damaged",
        "description": "Arrived broken.",
        "requested_outcome": "refund_buyer",
        **overrides,
    }


# --- opening ----------------------------------------------------------------------------------


async def test_only_the_buyer_may_open_a_dispute(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)
    stranger = await register_and_login(client)

    assert_problem(await post_dispute(client, who=m.seller, order_id=order["id"]), 403, "forbidden")
    assert_problem(await post_dispute(client, who=stranger, order_id=order["id"]), 404, "not_found")
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "shipped"

    dispute = await opened(client, m, order["id"], reason="damaged")
    assert dispute["order_id"] == order["id"]
    assert dispute["buyer_id"] == m.buyer.user_id
    assert dispute["reason"] == "damaged"
    assert dispute["requested_outcome"] == "refund_buyer"
    assert dispute["requested_amount"] is None
    assert dispute["outcome"] is None
    assert dispute["refund"] is None
    assert dispute["allowed_actions"] == ["escalate", "message", "add_evidence"]
    assert parse_time(dispute["respond_by"]) > parse_time(dispute["created_at"])


async def test_unpaid_and_cancelled_orders_cannot_be_disputed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    (unpaid,) = created["orders"]
    _listing, paid = await paid_order(client, market=m)
    cancelled = await post_cancel(client, who=m.seller, order_id=paid["id"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    assert_problem(
        await post_dispute(client, who=m.buyer, order_id=unpaid["id"]), 409, "order_not_disputable"
    )
    assert_problem(
        await post_dispute(client, who=m.buyer, order_id=paid["id"]), 409, "order_not_disputable"
    )


async def test_a_paid_order_can_be_disputed_and_a_second_dispute_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _listing, order = await paid_order(client, market=m)
    await opened(client, m, order["id"])
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "disputed"

    assert_problem(
        await post_dispute(client, who=m.buyer, order_id=order["id"]), 409, "dispute_exists"
    )


async def test_the_dispute_window_closes_fourteen_days_after_completion(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    early = await completed_order(client, market=m)
    late = await completed_order(client, market=m)
    assert settings.dispute_window == timedelta(days=14)

    clock.advance(settings.dispute_window - timedelta(minutes=1))
    buyer = await relogin(client, who=m.buyer)
    inside = await post_dispute(client, who=buyer, order_id=early["id"])
    assert inside.status_code == 201, inside.text

    clock.advance(timedelta(minutes=2))
    buyer = await relogin(client, who=m.buyer)
    assert_problem(
        await post_dispute(client, who=buyer, order_id=late["id"]), 409, "dispute_window_closed"
    )
    assert (await get_order(client, who=buyer, order_id=late["id"]))["status"] == "completed"


async def test_the_requested_amount_must_match_the_outcome(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)  # total 1500
    url = f"/v1/orders/{order['id']}/disputes"

    invalid = [
        dispute_body(requested_outcome="partial_refund"),
        dispute_body(requested_amount=usd(500)),
        dispute_body(requested_outcome="release_to_seller"),
        dispute_body(requested_outcome="partial_refund", requested_amount=usd(0)),
        dispute_body(reason="changed_my_mind"),
        dispute_body(description=""),
    ]
    for body in invalid:
        response = await client.post(url, json=body, headers=m.buyer.headers)
        assert_problem(response, 422, "validation_error")

    too_much = dispute_body(requested_outcome="partial_refund", requested_amount=usd(1501))
    response = await client.post(url, json=too_much, headers=m.buyer.headers)
    assert_problem(response, 422, "refund_exceeds_paid")
    euros = dispute_body(
        requested_outcome="partial_refund", requested_amount={"amount": 500, "currency": "EUR"}
    )
    response = await client.post(url, json=euros, headers=m.buyer.headers)
    assert_problem(response, 422, "currency_not_supported")
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "shipped"

    # The whole total is fine.
    all_of_it = await opened(client, m, order["id"], outcome="partial_refund", amount=1500)
    assert all_of_it["requested_amount"] == {"amount": 1500, "currency": "USD"}


async def test_the_spec_states_which_amount_goes_with_which_outcome(
    client: httpx.AsyncClient,
) -> None:
    """Found by the fuzzer: `requested_amount` with `refund_buyer` (and `refund_amount` with
    anything but `partial_refund`) was schema-valid and refused; a buyer's
    `release_to_seller` too."""
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]

    opening = schemas["DisputeCreate"]
    assert opening["properties"]["requested_outcome"]["enum"] == ["refund_buyer", "partial_refund"]
    for name, outcome, amount in (
        ("DisputeCreate", "requested_outcome", "requested_amount"),
        ("DisputeResolve", "outcome", "refund_amount"),
    ):
        rule = schemas[name]
        assert rule["if"]["properties"] == {outcome: {"const": "partial_refund"}}, name
        assert rule["then"]["required"] == [amount], name
        assert rule["else"]["properties"] == {amount: {"type": "null"}}, name
        assert schemas[name]["properties"][amount]["anyOf"][0] == {
            "$ref": "#/components/schemas/PositiveMoney"
        }


async def test_a_disputed_shipped_order_no_longer_auto_completes(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)
    dispute = await opened(client, m, order["id"])
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "disputed"
    # The seller answers, so the buyer owes the next word and no deadline runs.
    answered = await post_dispute_message(
        client, who=m.seller, dispute_id=dispute["id"], body="It left here intact."
    )
    assert answered.status_code == 201, answered.text

    clock.advance(settings.auto_complete_after + timedelta(days=1))
    done = await sweep(database, settings)
    assert done["resolve_unanswered_disputes"] == 0

    buyer, seller = await relogin(client, who=m.buyer), await relogin(client, who=m.seller)
    found = await get_order(client, who=buyer, order_id=order["id"])
    assert found["status"] == "disputed"
    assert found["refunded"]["amount"] == 0
    assert (await read(client, buyer, dispute["id"]))["status"] == "awaiting_buyer"
    assert await balance(client, seller=seller) == amounts()


async def test_disputing_a_completed_order_freezes_the_proceeds(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, price=1000, shipping=500)
    assert await balance(client, seller=m.seller) == amounts(available=1350)

    await opened(client, m, order["id"])

    assert await balance(client, seller=m.seller) == amounts(reserved=1350)
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "disputed"
    await reconcile_ok(client, admin=m.admin)


# --- messages ---------------------------------------------------------------------------------


async def test_messages_move_the_conversation_between_the_parties(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)
    dispute = await opened(client, m, order["id"])
    did = dispute["id"]
    first_deadline = parse_time(dispute["respond_by"])

    admin_note = await post_dispute_message(
        client, who=m.admin, dispute_id=did, body="Looking into it."
    )
    assert admin_note.status_code == 201, admin_note.text
    assert admin_note.json()["status"] == "open"
    assert parse_time(admin_note.json()["respond_by"]) == first_deadline

    seller_says = await post_dispute_message(
        client, who=m.seller, dispute_id=did, body="It was fine when shipped."
    )
    assert seller_says.status_code == 201, seller_says.text
    assert seller_says.json()["status"] == "awaiting_buyer"
    assert seller_says.json()["respond_by"] is None

    clock.advance(timedelta(hours=1))
    buyer = await relogin(client, who=m.buyer)
    buyer_says = await post_dispute_message(
        client, who=buyer, dispute_id=did, body="Here is how it arrived."
    )
    assert buyer_says.status_code == 201, buyer_says.text
    body = buyer_says.json()
    assert body["status"] == "awaiting_seller"
    moved = parse_time(body["respond_by"]) - first_deadline
    assert timedelta(hours=1) <= moved < timedelta(hours=1, minutes=1)

    admin = await relogin(client, who=m.admin)
    again = await post_dispute_message(
        client, who=admin, dispute_id=did, body="Seller, please answer."
    )
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "awaiting_seller"
    assert parse_time(again.json()["respond_by"]) == parse_time(body["respond_by"])
    found = await read(client, buyer, did)
    assert [(msg["author_role"], msg["body"]) for msg in found["messages"]] == [
        ("admin", "Looking into it."),
        ("seller", "It was fine when shipped."),
        ("buyer", "Here is how it arrived."),
        ("admin", "Seller, please answer."),
    ]
    assert [
        (e["action"], e["actor_role"], e["from_status"], e["to_status"]) for e in found["timeline"]
    ] == [
        ("open", "buyer", None, "open"),
        ("message", "admin", "open", "open"),
        ("seller_reply", "seller", "open", "awaiting_buyer"),
        ("buyer_reply", "buyer", "awaiting_buyer", "awaiting_seller"),
        ("message", "admin", "awaiting_seller", "awaiting_seller"),
    ]
    assert {e["subject"] for e in found["timeline"]} == {"dispute"}


async def test_messages_cite_only_this_disputes_evidence_and_stop_after_resolution(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    dispute = await opened(client, m, (await shipped_order(client, market=m))["id"])
    other = await opened(client, m, (await shipped_order(client, market=m))["id"])
    theirs = await upload_evidence(
        client, who=m.buyer, dispute_id=other["id"], name="other.png", data=EVIDENCE_PNG
    )
    assert theirs.status_code == 201, theirs.text
    ours = await upload_evidence(
        client, who=m.buyer, dispute_id=dispute["id"], name="ours.pdf", data=PDF
    )
    assert ours.status_code == 201, ours.text

    for evidence_id in (theirs.json()["id"], "0190f1c2-0000-7000-8000-000000000000"):
        cited = await post_dispute_message(
            client,
            who=m.buyer,
            dispute_id=dispute["id"],
            body="see file",
            evidence_ids=[evidence_id],
        )
        assert_problem(cited, 422, "unknown_evidence")
    assert (await read(client, m.buyer, dispute["id"]))["messages"] == []

    cited = await post_dispute_message(
        client,
        who=m.buyer,
        dispute_id=dispute["id"],
        body="see file",
        evidence_ids=[ours.json()["id"]],
    )
    assert cited.status_code == 201, cited.text
    (message,) = (await read(client, m.seller, dispute["id"]))["messages"]
    assert (message["author_id"], message["author_role"], message["body"]) == (
        m.buyer.user_id,
        "buyer",
        "see file",
    )
    assert [e["id"] for e in message["evidence"]] == [ours.json()["id"]]

    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=dispute["id"], outcome="release_to_seller"
    )
    assert resolved.status_code == 200, resolved.text
    for who in (m.buyer, m.seller, m.admin):
        assert_problem(
            await post_dispute_message(client, who=who, dispute_id=dispute["id"], body="late"),
            409,
            "dispute_resolved",
        )
    assert_problem(
        await upload_evidence(
            client, who=m.buyer, dispute_id=dispute["id"], name="late.png", data=EVIDENCE_PNG
        ),
        409,
        "dispute_resolved",
    )


# --- evidence ---------------------------------------------------------------------------------


async def test_evidence_is_judged_by_its_bytes_and_size(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    did = (await opened(client, m, (await shipped_order(client, market=m))["id"]))["id"]

    png = await upload_evidence(
        client, who=m.buyer, dispute_id=did, name="photo.png", data=EVIDENCE_PNG
    )
    assert png.status_code == 201, png.text
    body = png.json()
    assert (body["filename"], body["content_type"], body["size_bytes"]) == (
        "photo.png",
        "image/png",
        len(EVIDENCE_PNG),
    )
    assert body["url"] == f"/v1/disputes/{did}/evidence/{body['id']}"
    pdf = await upload_evidence(client, who=m.seller, dispute_id=did, name="receipt.pdf", data=PDF)
    assert pdf.status_code == 201, pdf.text
    assert pdf.json()["content_type"] == "application/pdf"

    fake = await upload_evidence(
        client, who=m.buyer, dispute_id=did, name="x.jpg", data=b"just some text, not a picture"
    )
    assert_problem(fake, 415, "unsupported_evidence_type")
    big = EVIDENCE_PNG + b"\x00" * (settings.max_evidence_bytes + 1 - len(EVIDENCE_PNG))
    assert_problem(
        await upload_evidence(client, who=m.buyer, dispute_id=did, name="big.png", data=big),
        413,
        "evidence_too_large",
    )
    exactly = big[:-1]
    fits = await upload_evidence(client, who=m.buyer, dispute_id=did, name="fits.png", data=exactly)
    assert fits.status_code == 201, fits.text
    assert fits.json()["size_bytes"] == settings.max_evidence_bytes

    stranger = await register_and_login(client)
    assert_problem(
        await upload_evidence(
            client, who=stranger, dispute_id=did, name="s.png", data=EVIDENCE_PNG
        ),
        404,
        "not_found",
    )


async def test_evidence_downloads_only_for_parties_and_admins_and_never_under_media(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    did = (await opened(client, m, (await shipped_order(client, market=m))["id"]))["id"]
    uploaded = await upload_evidence(
        client, who=m.buyer, dispute_id=did, name="photo.png", data=EVIDENCE_PNG
    )
    assert uploaded.status_code == 201, uploaded.text
    url = uploaded.json()["url"]
    evidence_id = uploaded.json()["id"]

    for who in (m.buyer, m.seller, m.admin):
        response = await client.get(url, headers=who.headers)
        assert response.status_code == 200, response.text
        assert response.content == EVIDENCE_PNG
        assert response.headers["content-type"] == "image/png"
        assert response.headers["x-content-type-options"] == "nosniff"

    stranger = await register_and_login(client)
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    for who in (stranger, other_seller):
        assert_problem(await client.get(url, headers=who.headers), 404, "not_found")
    missing = f"/v1/disputes/{did}/evidence/0190f1c2-0000-7000-8000-000000000000"
    assert_problem(await client.get(missing, headers=m.buyer.headers), 404, "not_found")

    for path in (
        f"/media/disputes/{did}/{evidence_id}.png",
        f"/media/private/disputes/{did}/{evidence_id}.png",
        f"/media/../private/disputes/{did}/{evidence_id}.png",
    ):
        exposed = await client.get(path, headers=m.buyer.headers)
        assert exposed.status_code == 404, path
        assert exposed.content != EVIDENCE_PNG


# --- escalation -------------------------------------------------------------------------------


async def test_either_party_escalates_and_the_worker_then_leaves_it_alone(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    by_buyer = await opened(client, m, (await shipped_order(client, market=m))["id"])
    by_seller = await opened(client, m, (await shipped_order(client, market=m))["id"])

    for who, dispute in ((m.buyer, by_buyer), (m.seller, by_seller)):
        response = await escalate(client, who, dispute["id"])
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "escalated"
        assert response.json()["respond_by"] is None
        # Escalated, both parties may still talk and add evidence until the decision.
        assert response.json()["allowed_actions"] == ["message", "add_evidence"]
        assert_problem(await escalate(client, who, dispute["id"]), 409, "invalid_transition")
    seller_view = await read(client, m.seller, by_buyer["id"])
    assert [(e["action"], e["actor_role"]) for e in seller_view["timeline"]] == [
        ("open", "buyer"),
        ("escalate", "buyer"),
    ]
    assert_problem(await escalate(client, m.buyer, by_seller["id"]), 409, "invalid_transition")

    clock.advance(settings.dispute_response_time + timedelta(days=1))
    assert (await sweep(database, settings))["resolve_unanswered_disputes"] == 0
    buyer = await relogin(client, who=m.buyer)
    for dispute in (by_buyer, by_seller):
        assert (await read(client, buyer, dispute["id"]))["status"] == "escalated"
        assert (await get_order(client, who=buyer, order_id=dispute["order_id"]))[
            "status"
        ] == "disputed"


# --- the worker -------------------------------------------------------------------------------


async def test_a_silent_seller_loses_with_what_the_buyer_asked_for(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m, price=1000, shipping=500)
    dispute = await opened(client, m, order["id"], outcome="partial_refund", amount=400)

    clock.advance(settings.dispute_response_time - timedelta(minutes=1))
    assert (await sweep(database, settings))["resolve_unanswered_disputes"] == 0
    clock.advance(timedelta(minutes=2))
    assert (await sweep(database, settings))["resolve_unanswered_disputes"] == 1
    assert (await sweep(database, settings))["resolve_unanswered_disputes"] == 0

    buyer, seller = await relogin(client, who=m.buyer), await relogin(client, who=m.seller)
    admin = await relogin(client, who=m.admin)
    found = await read(client, buyer, dispute["id"])
    assert found["status"] == "resolved"
    assert found["outcome"] == "partial_refund"
    assert found["refund"] == {"amount": 400, "currency": "USD"}
    assert found["respond_by"] is None
    assert found["resolved_at"] is not None
    assert [(e["action"], e["actor_role"], e["actor_id"]) for e in found["timeline"]][-1] == (
        "auto_resolve",
        "system",
        None,
    )
    settled = await get_order(client, who=buyer, order_id=order["id"])
    assert settled["status"] == "partially_refunded"
    assert settled["refunded"] == {"amount": 400, "currency": "USD"}
    # The remaining 1100 of escrow goes to the seller minus 10% commission.
    assert await balance(client, seller=seller) == amounts(available=990)
    await reconcile_ok(client, admin=admin)


# --- the admin's decision ---------------------------------------------------------------------


async def test_only_admins_resolve(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    did = (await opened(client, m, (await shipped_order(client, market=m))["id"]))["id"]

    for who in (m.buyer, m.seller):
        assert_problem(
            await post_resolve(client, admin=who, dispute_id=did, outcome="refund_buyer"),
            403,
            "admin_required",
        )
    missing_key = await client.post(
        f"/v1/admin/disputes/{did}/resolve",
        json={"outcome": "refund_buyer"},
        headers=m.admin.headers,
    )
    assert_problem(missing_key, 400, "idempotency_key_required")
    assert (await read(client, m.buyer, did))["status"] == "open"


async def test_a_refund_above_what_was_paid_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, price=1000, shipping=500)
    did = (await opened(client, m, order["id"]))["id"]
    assert await balance(client, seller=m.seller) == amounts(reserved=1350)

    too_much = await post_resolve(
        client, admin=m.admin, dispute_id=did, outcome="partial_refund", amount=1501
    )
    assert_problem(too_much, 422, "refund_exceeds_paid")

    found = await read(client, m.admin, did)
    assert (found["status"], found["outcome"], found["refund"]) == ("open", None, None)
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "disputed"
    assert await balance(client, seller=m.seller) == amounts(reserved=1350)
    await reconcile_ok(client, admin=m.admin)


async def test_a_decision_is_made_once_and_replayed_for_its_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, price=1000, shipping=500)
    did = (await opened(client, m, order["id"]))["id"]
    key = new_key()

    first = await post_resolve(
        client, admin=m.admin, dispute_id=did, outcome="partial_refund", amount=500, key=key
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "resolved"
    assert first.json()["outcome"] == "partial_refund"
    assert first.json()["refund"] == {"amount": 500, "currency": "USD"}
    assert first.json()["resolution_note"] == "decided"
    assert first.json()["allowed_actions"] == []

    replay = await post_resolve(
        client, admin=m.admin, dispute_id=did, outcome="partial_refund", amount=500, key=key
    )
    assert replay.status_code == 200, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()

    second = await post_resolve(client, admin=m.admin, dispute_id=did, outcome="refund_buyer")
    assert_problem(second, 409, "invalid_transition")

    settled = await get_order(client, who=m.buyer, order_id=order["id"])
    assert settled["status"] == "partially_refunded"
    assert settled["refunded"] == {"amount": 500, "currency": "USD"}
    # 500 of 1500 refunded: the platform returns 150 * 500 / 1500 = 50, the seller 450.
    assert await balance(client, seller=m.seller) == amounts(available=900)
    await reconcile_ok(client, admin=m.admin)


# --- the admin queue --------------------------------------------------------------------------


async def test_the_admin_queue_is_oldest_first_with_filters_and_ages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    first = await opened(client, m, (await shipped_order(client, market=m, price=1000))["id"])
    clock.advance(timedelta(minutes=1))
    second = await opened(
        client, m, (await shipped_order(client, market=m, price=2000))["id"], reason="damaged"
    )
    clock.advance(timedelta(minutes=1))
    third = await opened(
        client, m, (await shipped_order(client, market=m, price=3000))["id"], reason="damaged"
    )
    escalated = await escalate(client, m.buyer, third["id"])
    assert escalated.status_code == 200, escalated.text

    async def queue(who: LoggedIn, **params: str) -> httpx.Response:
        return await client.get("/v1/admin/disputes", params=params, headers=who.headers)

    assert_problem(await queue(m.buyer), 403, "admin_required")
    assert_problem(await queue(m.seller), 403, "admin_required")
    assert_problem(await queue(m.admin, status="nope"), 422, "validation_error")

    clock.advance(timedelta(hours=1))
    admin = await relogin(client, who=m.admin)
    response = await queue(admin)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == [first["id"], second["id"], third["id"]]
    assert [i["order_total"] for i in items] == [usd(1500), usd(2500), usd(3500)]
    assert [i["status"] for i in items] == ["open", "open", "escalated"]
    assert items[0]["age_seconds"] >= 3600 + 120
    assert items[2]["age_seconds"] >= 3600
    assert items[0]["age_seconds"] > items[1]["age_seconds"] > items[2]["age_seconds"]

    by_status = (await queue(admin, status="escalated")).json()["items"]
    assert [i["id"] for i in by_status] == [third["id"]]
    assert by_status[0]["respond_by"] is None
    by_reason = (await queue(admin, reason="damaged")).json()["items"]
    assert [i["id"] for i in by_reason] == [second["id"], third["id"]]
    both = (await queue(admin, status="open", reason="damaged")).json()["items"]
    assert [i["id"] for i in both] == [second["id"]]
    assert (await queue(admin, status="resolved")).json()["items"] == []


# --- reading ----------------------------------------------------------------------------------


async def test_a_dispute_is_visible_to_its_parties_and_admins_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)
    did = (await opened(client, m, order["id"]))["id"]

    for who in (m.buyer, m.seller, m.admin):
        found = await read(client, who, did)
        assert found["id"] == did
        assert found["seller_id"] == m.seller_id
        assert [
            (e["subject"], e["subject_id"], e["action"], e["actor_role"], e["to_status"])
            for e in found["timeline"]
        ] == [("dispute", did, "open", "buyer", "open")]
    assert (await read(client, m.seller, did))["allowed_actions"] == [
        "seller_reply",
        "escalate",
        "message",
        "add_evidence",
    ]
    assert (await read(client, m.admin, did))["allowed_actions"] == [
        "resolve",
        "message",
        "add_evidence",
    ]

    stranger = await register_and_login(client)
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    for who in (stranger, other_seller):
        assert_problem(await get_dispute(client, who=who, dispute_id=did), 404, "not_found")
        assert_problem(
            await post_dispute_message(client, who=who, dispute_id=did, body="hi"), 404, "not_found"
        )
        assert_problem(await escalate(client, who, did), 404, "not_found")


async def test_a_posted_message_is_in_the_answer_of_its_own_request(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _listing, order = await paid_order(client, market=m)
    opened = await client.post(
        f"/v1/orders/{order['id']}/disputes",
        json={"reason": "damaged", "description": "Cracked", "requested_outcome": "refund_buyer"},
        headers=m.buyer.headers,
    )
    assert opened.status_code == 201, opened.text

    posted = await client.post(
        f"/v1/disputes/{opened.json()['id']}/messages",
        json={"body": "It arrived cracked"},
        headers=m.buyer.headers,
    )

    assert posted.status_code == 201, posted.text
    assert [(x["author_role"], x["body"]) for x in posted.json()["messages"]] == [
        ("buyer", "It arrived cracked")
    ]
