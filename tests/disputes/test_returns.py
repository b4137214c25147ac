"""Returns over HTTP: who may ask, bad input, the refund amount, the state machine, the
receive step's money and the worker approving for a silent seller."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import LoggedIn, register_and_login, relogin
from tests.factories.api import Json, assert_problem, json_ok, new_key
from tests.factories.disputes import (
    SHIP_BACK,
    completed_order,
    post_dispute,
    post_resolve,
    post_return,
    return_step,
    shipped_order,
    step_ok,
)
from tests.factories.orders import Market, get_order, market, paid_order
from tests.factories.payments import amounts, balance, post_payout, reconcile_ok
from tests.factories.sellers import approved_seller
from tests.factories.worker import sweep


async def requested_return(
    client: httpx.AsyncClient,
    m: Market,
    order: Json,
    *,
    reason: str = "damaged",
    items: list[Json] | None = None,
) -> Json:
    response = await post_return(client, who=m.buyer, order=order, reason=reason, items=items)
    created: Json = json_ok(response, 201)
    assert created["status"] == "requested"
    return created


async def get_return(client: httpx.AsyncClient, who: LoggedIn, return_id: str) -> httpx.Response:
    return await client.get(f"/v1/returns/{return_id}", headers=who.headers)


def one_unit(order: Json, quantity: int = 1) -> list[Json]:
    (line,) = order["lines"]
    return [{"line_id": line["id"], "quantity": quantity}]


# --- who may ask ------------------------------------------------------------------------------


async def test_only_the_buyer_may_request_a_return(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    stranger = await register_and_login(client)

    assert_problem(await post_return(client, who=m.seller, order=order), 403, "forbidden")
    assert_problem(await post_return(client, who=stranger, order=order), 404, "not_found")

    created = await requested_return(client, m, order)
    assert created["buyer_id"] == m.buyer.user_id
    assert created["order_id"] == order["id"]
    assert created["reason"] == "damaged"
    assert created["details"] == "see photos"


async def test_a_paid_or_shipped_order_cannot_be_returned(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _listing, paid = await paid_order(client, market=m)
    shipped = await shipped_order(client, market=m)

    assert_problem(await post_return(client, who=m.buyer, order=paid), 409, "order_not_completed")
    assert_problem(
        await post_return(client, who=m.buyer, order=shipped), 409, "order_not_completed"
    )


async def test_the_return_window_closes_seven_days_after_completion(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    early = await completed_order(client, market=m)
    late = await completed_order(client, market=m)
    assert settings.return_window == timedelta(days=7)

    clock.advance(settings.return_window - timedelta(minutes=1))
    buyer = await relogin(client, who=m.buyer)
    inside = await post_return(client, who=buyer, order=early)
    assert inside.status_code == 201, inside.text

    clock.advance(timedelta(minutes=2))
    buyer = await relogin(client, who=m.buyer)
    assert_problem(await post_return(client, who=buyer, order=late), 409, "return_window_closed")


async def test_a_second_return_on_the_same_order_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, quantity=2)
    await requested_return(client, m, order, items=one_unit(order))

    again = await post_return(client, who=m.buyer, order=order, items=one_unit(order))
    assert_problem(again, 409, "return_exists")


async def test_items_must_be_lines_of_the_order_within_what_was_bought(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, quantity=2)
    other = await completed_order(client, market=m)
    (line,) = order["lines"]
    (foreign,) = other["lines"]

    cases = [
        [{"line_id": foreign["id"], "quantity": 1}],
        [{"line_id": "0190f1c2-0000-7000-8000-000000000000", "quantity": 1}],
        [{"line_id": line["id"], "quantity": 1}, {"line_id": line["id"], "quantity": 1}],
        [{"line_id": line["id"], "quantity": 3}],
    ]
    for items in cases:
        assert_problem(
            await post_return(client, who=m.buyer, order=order, items=items),
            422,
            "invalid_return_items",
        )
    # Nothing was created: a valid request still goes through.
    await requested_return(client, m, order, items=[{"line_id": line["id"], "quantity": 2}])


async def test_a_bad_reason_or_no_items_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    url = f"/v1/orders/{order['id']}/returns"

    bad_reason = await client.post(
        url, json={"reason": "too_expensive", "items": one_unit(order)}, headers=m.buyer.headers
    )
    assert_problem(bad_reason, 422, "validation_error")
    no_items = await client.post(
        url, json={"reason": "damaged", "items": []}, headers=m.buyer.headers
    )
    assert_problem(no_items, 422, "validation_error")
    zero = await client.post(
        url, json={"reason": "damaged", "items": one_unit(order, 0)}, headers=m.buyer.headers
    )
    assert_problem(zero, 422, "validation_error")


# --- the refund amount ------------------------------------------------------------------------


async def test_shipping_is_refunded_only_when_the_seller_is_at_fault(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    # One unit of two comes back: its price, and its half of the line's 500 shipping when
    # the seller is at fault.
    expected = {
        "damaged": 1250,
        "not_as_described": 1250,
        "wrong_item": 1250,
        "no_longer_needed": 1000,
    }
    for reason, refund in expected.items():
        order = await completed_order(client, market=m, price=1000, quantity=2, shipping=500)
        assert order["total"] == {"amount": 2500, "currency": "USD"}
        created = await requested_return(client, m, order, reason=reason, items=one_unit(order))
        assert created["refund"] == {"amount": refund, "currency": "USD"}, reason
        line = order["lines"][0]
        assert created["items"] == [
            {
                "line_id": line["id"],
                "listing_id": line["listing_id"],
                "title": line["title"],
                "quantity": 1,
            }
        ]


# --- allowed actions and illegal steps --------------------------------------------------------


async def test_allowed_actions_follow_the_caller_and_the_state(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    created = await requested_return(client, m, order)
    rid = created["id"]
    assert created["allowed_actions"] == []  # the buyer waits for the seller

    seller_view = (await get_return(client, m.seller, rid)).json()
    assert seller_view["allowed_actions"] == ["approve", "reject"]
    assert (await get_return(client, m.admin, rid)).json()["allowed_actions"] == []

    approved = await step_ok(client, who=m.seller, return_id=rid, step="approve")
    assert approved["status"] == "approved"
    assert approved["respond_by"] is None
    assert approved["allowed_actions"] == []
    assert (await get_return(client, m.buyer, rid)).json()["allowed_actions"] == ["ship_back"]

    shipped = await step_ok(client, who=m.buyer, return_id=rid, step="ship-back", body=SHIP_BACK)
    assert shipped["status"] == "shipped_back"
    assert (shipped["carrier"], shipped["tracking_number"]) == ("sandbox", "SBX00000002-SILENT")
    assert shipped["allowed_actions"] == []
    assert (await get_return(client, m.seller, rid)).json()["allowed_actions"] == ["receive"]


async def test_illegal_steps_are_invalid_transitions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = (await requested_return(client, m, order))["id"]

    assert_problem(
        await return_step(client, who=m.buyer, return_id=rid, step="approve"),
        409,
        "invalid_transition",
    )
    assert_problem(
        await return_step(client, who=m.seller, return_id=rid, step="ship-back", body=SHIP_BACK),
        409,
        "invalid_transition",
    )
    assert_problem(
        await return_step(client, who=m.seller, return_id=rid, step="receive"),
        409,
        "invalid_transition",
    )
    assert (await get_return(client, m.buyer, rid)).json()["status"] == "requested"

    await step_ok(client, who=m.seller, return_id=rid, step="approve")
    assert_problem(
        await return_step(client, who=m.seller, return_id=rid, step="ship-back", body=SHIP_BACK),
        409,
        "invalid_transition",
    )
    assert_problem(
        await return_step(client, who=m.seller, return_id=rid, step="receive"),
        409,
        "invalid_transition",
    )
    assert_problem(
        await return_step(
            client, who=m.seller, return_id=rid, step="reject", body={"reason": "late"}
        ),
        409,
        "invalid_transition",
    )
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "completed"


async def test_reject_needs_a_reason_and_then_the_buyer_may_dispute(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = (await requested_return(client, m, order))["id"]

    missing = await return_step(client, who=m.seller, return_id=rid, step="reject", body={})
    assert_problem(missing, 422, "validation_error")
    assert_problem(
        await return_step(client, who=m.seller, return_id=rid, step="reject", body={"reason": ""}),
        422,
        "validation_error",
    )

    rejected = await step_ok(
        client, who=m.seller, return_id=rid, step="reject", body={"reason": "Used, not damaged"}
    )
    assert rejected["status"] == "rejected"
    assert rejected["rejection_reason"] == "Used, not damaged"
    assert rejected["allowed_actions"] == []
    assert_problem(
        await return_step(client, who=m.buyer, return_id=rid, step="ship-back", body=SHIP_BACK),
        409,
        "invalid_transition",
    )

    disputed = await post_dispute(client, who=m.buyer, order_id=order["id"])
    assert disputed.status_code == 201, disputed.text
    assert disputed.json()["status"] == "open"
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "disputed"


async def test_no_dispute_while_a_return_is_in_progress(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = (await requested_return(client, m, order))["id"]

    assert_problem(
        await post_dispute(client, who=m.buyer, order_id=order["id"]), 409, "return_in_progress"
    )
    await step_ok(client, who=m.seller, return_id=rid, step="approve")
    assert_problem(
        await post_dispute(client, who=m.buyer, order_id=order["id"]), 409, "return_in_progress"
    )
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "completed"


async def test_a_return_shipped_back_but_never_confirmed_can_be_disputed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = await shipped_back(client, m, order)

    disputed = await post_dispute(client, who=m.buyer, order_id=order["id"], reason="other")

    assert disputed.status_code == 201, disputed.text
    # The dispute now decides the money: the return can no longer refund a second time.
    assert_problem(
        await return_step(client, who=m.seller, return_id=rid, step="receive"),
        409,
        "invalid_transition",
    )
    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=disputed.json()["id"], outcome="refund_buyer"
    )
    assert resolved.json()["refund"]["amount"] == 1500
    assert await balance(client, seller=m.seller) == amounts()
    await reconcile_ok(client, admin=m.admin)


# --- receiving: the refund --------------------------------------------------------------------


async def shipped_back(
    client: httpx.AsyncClient,
    m: Market,
    order: Json,
    *,
    reason: str = "damaged",
    items: list[Json] | None = None,
) -> str:
    rid: str = (await requested_return(client, m, order, reason=reason, items=items))["id"]
    await step_ok(client, who=m.seller, return_id=rid, step="approve")
    await step_ok(client, who=m.buyer, return_id=rid, step="ship-back", body=SHIP_BACK)
    return rid


async def test_receive_requires_an_idempotency_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = await shipped_back(client, m, order)

    response = await client.post(f"/v1/returns/{rid}/receive", headers=m.seller.headers)
    assert_problem(response, 400, "idempotency_key_required")
    assert (await get_return(client, m.seller, rid)).json()["status"] == "shipped_back"
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["refunded"]["amount"] == 0


async def test_receiving_the_whole_order_refunds_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, price=1000, shipping=500)
    assert await balance(client, seller=m.seller) == amounts(available=1350)
    rid = await shipped_back(client, m, order)

    headers = {**m.seller.headers, "Idempotency-Key": new_key()}
    received = await client.post(f"/v1/returns/{rid}/receive", headers=headers)
    assert received.status_code == 200, received.text
    body = received.json()
    assert body["status"] == "received"
    assert body["received_at"] is not None
    assert body["allowed_actions"] == []
    replay = await client.post(f"/v1/returns/{rid}/receive", headers=headers)
    assert replay.status_code == 200, replay.text
    assert replay.json()["id"] == rid

    refunded = await get_order(client, who=m.buyer, order_id=order["id"])
    assert refunded["status"] == "refunded"
    assert refunded["refunded"] == {"amount": 1500, "currency": "USD"}
    # The commission comes back with the whole refund: the seller gives up the 1350 net.
    assert await balance(client, seller=m.seller) == amounts()
    await reconcile_ok(client, admin=m.admin)


async def test_receiving_part_of_the_order_after_a_payout_leaves_a_debt(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, price=1000, quantity=2, shipping=500)
    # 2500 paid, 250 commission, 2250 net; all of it is paid out first.
    assert await balance(client, seller=m.seller) == amounts(available=2250)
    payout = await post_payout(client, seller=m.seller, amount=2250)
    assert payout.status_code == 201, payout.text
    assert await balance(client, seller=m.seller) == amounts(in_transit=2250)

    rid = await shipped_back(client, m, order, reason="no_longer_needed", items=one_unit(order))
    received = await return_step(client, who=m.seller, return_id=rid, step="receive")
    assert received.status_code == 200, received.text
    assert received.json()["refund"] == {"amount": 1000, "currency": "USD"}

    partly = await get_order(client, who=m.buyer, order_id=order["id"])
    assert partly["status"] == "partially_refunded"
    assert partly["refunded"] == {"amount": 1000, "currency": "USD"}
    # The platform returns 250 * 1000 / 2500 = 100 of its commission; the seller owes 900.
    assert await balance(client, seller=m.seller) == amounts(debt=900, in_transit=2250)
    await reconcile_ok(client, admin=m.admin)


# --- the worker -------------------------------------------------------------------------------


async def test_a_silent_seller_approves_by_default(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = (await requested_return(client, m, order))["id"]

    clock.advance(settings.dispute_response_time - timedelta(minutes=1))
    assert (await sweep(database, settings))["approve_overdue_returns"] == 0
    buyer = await relogin(client, who=m.buyer)
    assert (await get_return(client, buyer, rid)).json()["status"] == "requested"

    clock.advance(timedelta(minutes=2))
    assert (await sweep(database, settings))["approve_overdue_returns"] == 1
    buyer = await relogin(client, who=m.buyer)
    found = (await get_return(client, buyer, rid)).json()
    assert found["status"] == "approved"
    assert found["respond_by"] is None
    assert found["allowed_actions"] == ["ship_back"]
    assert [
        (e["action"], e["actor_role"], e["actor_id"], e["to_status"]) for e in found["timeline"]
    ][-1] == ("approve", "system", None, "approved")
    assert (await sweep(database, settings))["approve_overdue_returns"] == 0


# --- reading ----------------------------------------------------------------------------------


async def test_a_return_is_visible_to_its_parties_and_admins_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = (await requested_return(client, m, order))["id"]
    await step_ok(client, who=m.seller, return_id=rid, step="approve")

    for who in (m.buyer, m.seller, m.admin):
        response = await get_return(client, who, rid)
        assert response.status_code == 200, response.text
        found = response.json()
        assert found["id"] == rid
        assert found["seller_id"] == m.seller_id
        assert [
            (e["subject"], e["subject_id"], e["action"], e["actor_role"], e["from_status"])
            for e in found["timeline"]
        ] == [
            ("return", rid, "request", "buyer", None),
            ("return", rid, "approve", "seller", "requested"),
        ]
        assert [e["to_status"] for e in found["timeline"]] == ["requested", "approved"]

    stranger = await register_and_login(client)
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    for who in (stranger, other_seller):
        assert_problem(await get_return(client, who, rid), 404, "not_found")
    assert_problem(
        await return_step(
            client, who=other_seller, return_id=rid, step="reject", body={"reason": "x"}
        ),
        404,
        "not_found",
    )
