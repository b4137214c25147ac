"""Orders after checkout: who sees them, what each party may do, and the money of each step."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from tests.factories.accounts import LoggedIn, register_and_login
from tests.factories.api import Json, assert_problem, parse_time
from tests.factories.catalog import listing_for_sale, read_listing, search_ids
from tests.factories.orders import (
    Market,
    checkout,
    confirm,
    get_order,
    list_orders,
    market,
    order_events,
    paid_order,
    post_cancel,
    post_confirm,
    post_pay,
    post_ship,
    relogin_market,
    ship,
)
from tests.factories.payments import (
    amounts,
    balance,
    escrow_of,
    ledger_kinds,
    platform_revenue,
    provider_book,
    reconcile_ok,
)
from tests.factories.sellers import approved_seller

# --- reading ----------------------------------------------------------------------------------


async def test_orders_are_listed_by_role_and_status(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    supplier, _ = await approved_seller(client, session, admin=m.admin)
    # The seller sells one order to the buyer and, as a buyer, buys from another shop.
    _, sold_paid = await paid_order(client, market=m)
    second = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    sold_unpaid = (
        await checkout(client, who=m.buyer, items=[{"listing_id": second["id"], "quantity": 1}])
    )["orders"][0]
    supply = await listing_for_sale(client, seller=supplier, category_id=m.category_id)
    bought = (
        await checkout(client, who=m.seller, items=[{"listing_id": supply["id"], "quantity": 1}])
    )["orders"][0]

    def ids(orders: list[Json]) -> list[str]:
        return [o["id"] for o in orders]

    # Newest first.
    assert ids(await list_orders(client, who=m.buyer)) == [sold_unpaid["id"], sold_paid["id"]]
    assert ids(await list_orders(client, who=m.buyer, role="buyer")) == [
        sold_unpaid["id"],
        sold_paid["id"],
    ]
    assert await list_orders(client, who=m.buyer, role="seller") == []
    assert ids(await list_orders(client, who=m.buyer, status="paid")) == [sold_paid["id"]]
    assert ids(await list_orders(client, who=m.buyer, role="buyer", status="pending_payment")) == [
        sold_unpaid["id"]
    ]
    assert await list_orders(client, who=m.buyer, status="shipped") == []

    assert ids(await list_orders(client, who=m.seller, role="seller")) == [
        sold_unpaid["id"],
        sold_paid["id"],
    ]
    assert ids(await list_orders(client, who=m.seller, role="buyer")) == [bought["id"]]
    assert ids(await list_orders(client, who=m.seller)) == [
        bought["id"],
        sold_unpaid["id"],
        sold_paid["id"],
    ]
    assert ids(await list_orders(client, who=m.seller, role="seller", status="paid")) == [
        sold_paid["id"]
    ]
    # Each listed order carries the caller's actions.
    (as_seller,) = await list_orders(client, who=m.seller, role="seller", status="paid")
    assert as_seller["allowed_actions"] == ["cancel", "ship"]
    assert await list_orders(client, who=supplier, role="buyer") == []
    assert ids(await list_orders(client, who=supplier, role="seller")) == [bought["id"]]

    bad = await client.get("/v1/orders", params={"role": "admin"}, headers=m.buyer.headers)
    assert_problem(bad, 422, "validation_error")
    await reconcile_ok(client, admin=m.admin)


async def _attempt(
    client: httpx.AsyncClient, who: LoggedIn, action: str, order_id: str
) -> httpx.Response:
    if action == "get":
        return await client.get(f"/v1/orders/{order_id}", headers=who.headers)
    if action == "events":
        return await client.get(f"/v1/orders/{order_id}/events", headers=who.headers)
    if action == "ship":
        return await post_ship(client, who=who, order_id=order_id)
    if action == "confirm":
        return await post_confirm(client, who=who, order_id=order_id)
    assert action == "cancel"
    return await post_cancel(client, who=who, order_id=order_id)


@pytest.mark.parametrize("action", ["get", "events", "ship", "confirm", "cancel"])
@pytest.mark.parametrize("stranger", ["other_buyer", "other_seller"])
async def test_a_stranger_cannot_see_or_touch_an_order(
    client: httpx.AsyncClient, session: AsyncSession, stranger: str, action: str
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    if action == "confirm":  # the state in which confirming would be legal for the buyer
        order = await ship(client, who=m.seller, order_id=order["id"])
    if stranger == "other_buyer":
        who = await register_and_login(client)
    else:
        who, _ = await approved_seller(client, session, admin=m.admin)
    events_before = await order_events(client, who=m.buyer, order_id=order["id"])

    response = await _attempt(client, who, action, order["id"])

    assert_problem(response, 404, "not_found")
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == order["status"]
    assert await order_events(client, who=m.buyer, order_id=order["id"]) == events_before
    assert await balance(client, seller=m.seller) == amounts()
    await reconcile_ok(client, admin=m.admin)


async def _order_in_state(
    client: httpx.AsyncClient, m: Market, state: str, settings: Settings
) -> tuple[Market, str]:
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    order_id: str = created["orders"][0]["id"]
    if state == "pending_payment":
        return m, order_id
    if state == "cancelled":
        assert (await post_cancel(client, who=m.buyer, order_id=order_id)).status_code == 200
        return m, order_id
    assert (await post_pay(client, who=m.buyer, checkout_id=created["id"])).status_code == 200
    if state == "paid":
        return m, order_id
    if state == "paid_past_ship_by":
        clock.advance(settings.ship_by + timedelta(seconds=1))
        return await relogin_market(client, market=m), order_id
    await ship(client, who=m.seller, order_id=order_id)
    if state == "completed":
        await confirm(client, who=m.buyer, order_id=order_id)
    else:
        assert state == "shipped"
    return m, order_id


@pytest.mark.parametrize(
    ("state", "caller", "expected"),
    [
        # The buyer may always write to the seller about their order; the seller answers
        # once the buyer has written (issue 15: `message`, `request_return`, `review`).
        ("pending_payment", "buyer", ["cancel", "message"]),
        ("pending_payment", "seller", []),
        ("pending_payment", "admin", ["cancel"]),
        ("paid", "buyer", ["open_dispute", "message"]),
        ("paid", "seller", ["cancel", "ship"]),
        ("paid", "admin", ["cancel"]),
        ("paid_past_ship_by", "buyer", ["cancel", "open_dispute", "message"]),
        ("paid_past_ship_by", "seller", ["cancel", "ship"]),
        ("shipped", "buyer", ["confirm_receipt", "open_dispute", "message"]),
        ("shipped", "seller", []),
        ("shipped", "admin", []),
        ("completed", "buyer", ["open_dispute", "request_return", "review", "message"]),
        ("completed", "seller", ["review"]),
        ("cancelled", "buyer", ["message"]),
        ("cancelled", "seller", []),
    ],
)
async def test_allowed_actions_are_those_of_the_caller_now(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    state: str,
    caller: str,
    expected: list[str],
) -> None:
    m, order_id = await _order_in_state(client, await market(client, session), state, settings)
    who = {"buyer": m.buyer, "seller": m.seller, "admin": m.admin}[caller]

    order = await get_order(client, who=who, order_id=order_id)

    assert order["status"] == state.removesuffix("_past_ship_by")
    assert order["allowed_actions"] == expected


# --- transitions ------------------------------------------------------------------------------


async def test_shipping_an_unpaid_order_is_an_invalid_transition(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=3)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 2}]
    )
    order_id = created["orders"][0]["id"]

    response = await post_ship(client, who=m.seller, order_id=order_id)

    assert_problem(response, 409, "invalid_transition")
    order = await get_order(client, who=m.seller, order_id=order_id)
    assert (order["status"], order["carrier"], order["shipped_at"]) == (
        "pending_payment",
        None,
        None,
    )
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 1
    assert [e["action"] for e in await order_events(client, who=m.seller, order_id=order_id)] == [
        "create"
    ]


@pytest.mark.parametrize(
    ("state", "caller", "action"),
    [
        ("paid", "buyer", "ship"),
        ("paid", "buyer", "confirm"),
        ("paid", "seller", "confirm"),
        ("shipped", "seller", "confirm"),
        ("pending_payment", "seller", "cancel"),
        ("completed", "buyer", "confirm"),
    ],
)
async def test_a_party_cannot_take_the_other_partys_step(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    state: str,
    caller: str,
    action: str,
) -> None:
    m, order_id = await _order_in_state(client, await market(client, session), state, settings)
    who = m.buyer if caller == "buyer" else m.seller
    before = await get_order(client, who=m.buyer, order_id=order_id)
    seller_before = await balance(client, seller=m.seller)

    response = await _attempt(client, who, action, order_id)

    assert_problem(response, 409, "invalid_transition")
    assert await get_order(client, who=m.buyer, order_id=order_id) == before
    assert await balance(client, seller=m.seller) == seller_before
    await reconcile_ok(client, admin=m.admin)


async def test_the_seller_ships_with_carrier_and_tracking(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)

    shipped = await ship(client, who=m.seller, order_id=order["id"])

    assert (shipped["carrier"], shipped["tracking_number"]) == (
        "sandbox",
        "SBX00000001-DELIVERED-0",
    )
    # The sandbox number delivers at once: completion counts from the delivery.
    delivered_at = parse_time(shipped["delivered_at"])
    assert delivered_at == parse_time(shipped["shipped_at"])
    assert parse_time(shipped["auto_complete_at"]) == delivered_at + settings.auto_complete_after
    assert shipped["allowed_actions"] == []
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["allowed_actions"] == [
        "confirm_receipt",
        "open_dispute",
        "message",
    ]
    # Shipping moves no money.
    assert await escrow_of(session, order_id=order["id"]) == 1500
    assert await balance(client, seller=m.seller) == amounts()
    await reconcile_ok(client, admin=m.admin)


@pytest.mark.parametrize(
    "tracking_number", ["", "x" * 65, "JJD;DROP TABLE"], ids=["empty", "long", "bad-chars"]
)
async def test_shipping_needs_a_valid_tracking_number(
    client: httpx.AsyncClient, session: AsyncSession, tracking_number: str
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)

    response = await client.post(
        f"/v1/orders/{order['id']}/ship",
        json={"carrier": "DHL", "tracking_number": tracking_number},
        headers=m.seller.headers,
    )

    assert_problem(response, 422, "validation_error")
    assert (await get_order(client, who=m.seller, order_id=order["id"]))["status"] == "paid"


async def test_confirming_receipt_completes_and_pays_the_seller_minus_commission(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1235, shipping=500)
    total = 1235 + 500
    assert order["total"]["amount"] == total == 1735
    commission = 174  # 10 % of 1735 is 173.5, rounded half up
    await ship(client, who=m.seller, order_id=order["id"])

    completed = await confirm(client, who=m.buyer, order_id=order["id"])

    assert completed["completed_at"] is not None
    # Inside the dispute, return and review windows.
    assert completed["allowed_actions"] == ["open_dispute", "request_return", "review", "message"]
    assert await balance(client, seller=m.seller) == amounts(available=total - commission)
    assert await balance(client, seller=m.seller) == amounts(available=1561)
    assert await platform_revenue(session) == commission
    assert await escrow_of(session, order_id=order["id"]) == 0
    assert await ledger_kinds(session) == ["payment", "completion"]

    again = await post_confirm(client, who=m.buyer, order_id=order["id"])
    assert_problem(again, 409, "invalid_transition")
    assert await balance(client, seller=m.seller) == amounts(available=1561)
    assert await ledger_kinds(session) == ["payment", "completion"]
    await reconcile_ok(client, admin=m.admin)


@pytest.mark.parametrize("caller", ["buyer", "seller"])
async def test_a_shipped_order_cannot_be_cancelled(
    client: httpx.AsyncClient, session: AsyncSession, caller: str
) -> None:
    m = await market(client, session)
    listing, order = await paid_order(client, market=m)
    await ship(client, who=m.seller, order_id=order["id"])
    who = m.buyer if caller == "buyer" else m.seller

    response = await post_cancel(client, who=who, order_id=order["id"])

    assert_problem(response, 409, "invalid_transition")
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "shipped"
    assert await escrow_of(session, order_id=order["id"]) == 1500
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 4
    assert await provider_book(session) == [("capture", 1500, True)]
    await reconcile_ok(client, admin=m.admin)


async def test_the_seller_cancels_a_paid_order_and_the_buyer_is_refunded_in_full(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=999, quantity=2
    )
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 2}]
    )
    await post_pay(client, who=m.buyer, checkout_id=created["id"])
    order_id = created["orders"][0]["id"]
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))[
        "status"
    ] == "sold_out"

    response = await post_cancel(
        client, who=m.seller, order_id=order_id, reason="Broke it while packing"
    )

    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancel_reason"] == "Broke it while packing"
    assert cancelled["cancelled_at"] is not None
    assert await provider_book(session) == [("capture", 2498, True), ("refund", 2498, True)]
    assert await escrow_of(session, order_id=order_id) == 0
    assert await ledger_kinds(session) == ["payment", "refund"]
    assert await balance(client, seller=m.seller) == amounts()
    assert await platform_revenue(session) == 0
    restocked = await read_listing(client, who=m.seller, listing_id=listing["id"])
    assert (restocked["quantity"], restocked["status"]) == (2, "active")
    assert listing["id"] in await search_ids(client, seller=m.seller_id)
    events = await order_events(client, who=m.buyer, order_id=order_id)
    assert (events[-1]["action"], events[-1]["actor_role"], events[-1]["details"]) == (
        "cancel",
        "seller",
        {"reason": "Broke it while packing"},
    )
    await reconcile_ok(client, admin=m.admin)


async def test_the_buyer_cancels_an_unpaid_order_and_the_stock_returns(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=3)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 3}]
    )
    order_id = created["orders"][0]["id"]
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))[
        "status"
    ] == "sold_out"

    response = await post_cancel(
        client, who=m.buyer, order_id=order_id, reason="Ordered by mistake"
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["allowed_actions"] == ["message"]
    restocked = await read_listing(client, who=m.seller, listing_id=listing["id"])
    assert (restocked["quantity"], restocked["status"]) == (3, "active")
    # Nothing was charged, so nothing is refunded; the checkout cannot be paid any more.
    assert await provider_book(session) == []
    assert await ledger_kinds(session) == []
    assert_problem(
        await post_pay(client, who=m.buyer, checkout_id=created["id"]), 409, "invalid_transition"
    )
    assert await provider_book(session) == []
    await reconcile_ok(client, admin=m.admin)


async def test_the_buyer_may_cancel_a_paid_order_only_once_the_seller_is_late(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    listing, order = await paid_order(client, market=m, price=2000, shipping=450)

    too_early = await post_cancel(client, who=m.buyer, order_id=order["id"])

    assert_problem(too_early, 409, "invalid_transition")
    assert await escrow_of(session, order_id=order["id"]) == 2450

    clock.advance(settings.ship_by + timedelta(seconds=1))
    m = await relogin_market(client, market=m)
    late = await post_cancel(client, who=m.buyer, order_id=order["id"], reason="Never shipped")

    assert late.status_code == 200, late.text
    assert late.json()["status"] == "cancelled"
    assert await provider_book(session) == [("capture", 2450, True), ("refund", 2450, True)]
    assert await escrow_of(session, order_id=order["id"]) == 0
    assert (await read_listing(client, who=m.seller, listing_id=listing["id"]))["quantity"] == 5
    assert await balance(client, seller=m.seller) == amounts()
    await reconcile_ok(client, admin=m.admin)


async def test_a_cancellation_needs_a_reason(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)

    response = await client.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": ""}, headers=m.seller.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await get_order(client, who=m.seller, order_id=order["id"]))["status"] == "paid"


async def test_the_timeline_records_every_step_with_its_actor(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    await ship(client, who=m.seller, order_id=order["id"])
    await confirm(client, who=m.buyer, order_id=order["id"])

    events = await order_events(client, who=m.seller, order_id=order["id"])

    assert [
        (e["action"], e["actor_role"], e["actor_id"], e["from_status"], e["to_status"])
        for e in events
    ] == [
        ("create", "buyer", m.buyer.user_id, None, "pending_payment"),
        ("pay", "buyer", m.buyer.user_id, "pending_payment", "paid"),
        ("ship", "seller", m.seller.user_id, "paid", "shipped"),
        ("ship", "seller", m.seller.user_id, None, "label_created"),
        ("track", "carrier", None, "label_created", "in_transit"),
        ("track", "carrier", None, "in_transit", "out_for_delivery"),
        ("track", "carrier", None, "out_for_delivery", "delivered"),
        ("confirm_receipt", "buyer", m.buyer.user_id, "shipped", "completed"),
    ]
    assert events[2]["details"] == {
        "carrier": "sandbox",
        "carrier_name": "Sandbox carrier (testing)",
        "tracking_number": "SBX00000001-DELIVERED-0",
    }
    assert [e["subject"] for e in events[3:7]] == ["shipment"] * 4
    times = [parse_time(e["created_at"]) for e in events]
    assert times == sorted(times)
    assert await order_events(client, who=m.buyer, order_id=order["id"]) == events
    await reconcile_ok(client, admin=m.admin)
