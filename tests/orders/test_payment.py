"""Paying a checkout: one capture for all its orders, the money held in escrow; a failed
payment leaves nothing behind and can be retried."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import add_business_days, clock
from tests.factories.accounts import LoggedIn, register_and_login, relogin
from tests.factories.api import assert_problem, new_key, parse_time
from tests.factories.catalog import listing_for_sale, read_listing
from tests.factories.orders import (
    Market,
    checkout,
    get_checkout,
    market,
    order_events,
    pay,
    post_cancel,
    post_pay,
)
from tests.factories.payments import (
    amounts,
    balance,
    escrow_of,
    ledger_kinds,
    provider_book,
    reconcile_ok,
)
from tests.factories.sellers import approved_seller


async def _two_seller_checkout(
    client: httpx.AsyncClient, session: AsyncSession
) -> tuple[Market, LoggedIn, dict[str, object]]:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    mine = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1000, shipping=500
    )
    theirs = await listing_for_sale(
        client, seller=other, category_id=m.category_id, price=2350, shipping=250
    )
    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": mine["id"], "quantity": 2},
            {"listing_id": theirs["id"], "quantity": 1},
        ],
    )
    assert created["total"]["amount"] == 2500 + 2600
    return m, other, created


async def test_a_successful_payment_pays_every_order_into_escrow(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m, other, created = await _two_seller_checkout(client, session)

    paid = await pay(client, who=m.buyer, checkout_id=str(created["id"]))

    paid_at = parse_time(paid["paid_at"])
    assert paid["total"] == {"amount": 5100, "currency": "USD"}
    assert len(paid["orders"]) == 2
    for order in paid["orders"]:
        assert order["status"] == "paid"
        assert parse_time(order["paid_at"]) == paid_at
        # The factory's listings take 2 business days to ship (under the cap).
        assert parse_time(order["ship_by"]) == add_business_days(paid_at, 2)
        # Else the buyer waits (or writes to the seller).
        assert order["allowed_actions"] == ["open_dispute", "message"]
        assert await escrow_of(session, order_id=order["id"]) == order["total"]["amount"]
    assert sorted(o["total"]["amount"] for o in paid["orders"]) == [2500, 2600]
    assert await get_checkout(client, who=m.buyer, checkout_id=str(created["id"])) == paid
    # The sellers have nothing yet: the money sits in escrow until completion.
    assert await balance(client, seller=m.seller) == amounts()
    assert await balance(client, seller=other) == amounts()
    assert await provider_book(session) == [("capture", 5100, True)]
    assert await ledger_kinds(session) == ["payment"]
    for order in paid["orders"]:
        events = await order_events(client, who=m.buyer, order_id=order["id"])
        assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
            ("create", None, "pending_payment"),
            ("pay", "pending_payment", "paid"),
        ]
    await reconcile_ok(client, admin=m.admin)


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        ("tok_declined", 402, "payment_declined"),
        ("tok_insufficient_funds", 402, "insufficient_funds"),
        ("tok_provider_error", 502, "payment_provider_error"),
    ],
)
async def test_a_failed_payment_changes_nothing_and_the_same_key_can_retry(
    client: httpx.AsyncClient, session: AsyncSession, token: str, status: int, code: str
) -> None:
    m, _, created = await _two_seller_checkout(client, session)
    checkout_id = str(created["id"])
    key = new_key()

    failed = await post_pay(client, who=m.buyer, checkout_id=checkout_id, token=token, key=key)

    assert_problem(failed, status, code)
    after = await get_checkout(client, who=m.buyer, checkout_id=checkout_id)
    assert after["status"] == "pending_payment"
    assert after["paid_at"] is None
    assert [o["status"] for o in after["orders"]] == ["pending_payment", "pending_payment"]
    assert all(o["ship_by"] is None for o in after["orders"])
    assert await provider_book(session) == []
    assert await ledger_kinds(session) == []
    for order in after["orders"]:
        assert [
            e["action"] for e in await order_events(client, who=m.buyer, order_id=order["id"])
        ] == ["create"]
    await reconcile_ok(client, admin=m.admin)

    retried = await post_pay(
        client, who=m.buyer, checkout_id=checkout_id, token="tok_success", key=key
    )

    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["status"] == "paid"
    assert [o["status"] for o in retried.json()["orders"]] == ["paid", "paid"]
    assert await provider_book(session) == [("capture", 5100, True)]
    assert await ledger_kinds(session) == ["payment"]
    await reconcile_ok(client, admin=m.admin)


async def test_an_unknown_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _, created = await _two_seller_checkout(client, session)

    response = await post_pay(
        client, who=m.buyer, checkout_id=str(created["id"]), token="tok_made_up"
    )

    assert_problem(response, 422, "invalid_payment_token")
    assert (await get_checkout(client, who=m.buyer, checkout_id=str(created["id"])))[
        "status"
    ] == "pending_payment"
    assert await provider_book(session) == []
    await reconcile_ok(client, admin=m.admin)


async def test_paying_requires_an_idempotency_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _, created = await _two_seller_checkout(client, session)

    response = await client.post(
        f"/v1/checkouts/{created['id']}/pay",
        json={"payment_token": "tok_success"},
        headers=m.buyer.headers,
    )

    assert_problem(response, 400, "idempotency_key_required")
    assert await provider_book(session) == []


async def test_a_retry_with_the_same_key_replays_and_charges_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _, created = await _two_seller_checkout(client, session)
    key = new_key()

    first = await post_pay(client, who=m.buyer, checkout_id=str(created["id"]), key=key)
    again = await post_pay(client, who=m.buyer, checkout_id=str(created["id"]), key=key)

    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    reused = await post_pay(
        client, who=m.buyer, checkout_id=str(created["id"]), token="tok_declined", key=key
    )
    assert_problem(reused, 422, "idempotency_key_reused")
    assert await provider_book(session) == [("capture", 5100, True)]
    assert await ledger_kinds(session) == ["payment"]
    await reconcile_ok(client, admin=m.admin)


async def test_paying_twice_with_different_keys_is_refused_and_charges_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _, created = await _two_seller_checkout(client, session)
    await pay(client, who=m.buyer, checkout_id=str(created["id"]))

    second = await post_pay(client, who=m.buyer, checkout_id=str(created["id"]))

    assert_problem(second, 409, "invalid_transition")
    assert await provider_book(session) == [("capture", 5100, True)]
    assert await ledger_kinds(session) == ["payment"]
    await reconcile_ok(client, admin=m.admin)


async def test_paying_after_the_expiry_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id, quantity=1)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )

    clock.advance(settings.payment_expiry + timedelta(seconds=1))
    buyer = await relogin(client, who=m.buyer)
    response = await post_pay(client, who=buyer, checkout_id=created["id"])

    assert_problem(response, 409, "checkout_expired")
    assert (await get_checkout(client, who=buyer, checkout_id=created["id"]))[
        "status"
    ] == "pending_payment"
    assert await provider_book(session) == []
    assert await ledger_kinds(session) == []
    seller = await relogin(client, who=m.seller)
    assert (await read_listing(client, who=seller, listing_id=listing["id"]))[
        "status"
    ] == "sold_out"
    await reconcile_ok(client, admin=await relogin(client, who=m.admin))


async def test_paying_just_before_the_expiry_works(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )

    clock.advance(settings.payment_expiry - timedelta(seconds=5))
    buyer = await relogin(client, who=m.buyer)
    paid = await pay(client, who=buyer, checkout_id=created["id"])

    assert paid["total"]["amount"] == 1500
    assert await provider_book(session) == [("capture", 1500, True)]
    await reconcile_ok(client, admin=await relogin(client, who=m.admin))


@pytest.mark.parametrize("caller", ["other_buyer", "seller", "admin"])
async def test_someone_elses_checkout_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, caller: str
) -> None:
    m, _, created = await _two_seller_checkout(client, session)
    who = {
        "other_buyer": await register_and_login(client),
        "seller": m.seller,
        "admin": m.admin,
    }[caller]

    paying = await post_pay(client, who=who, checkout_id=str(created["id"]))
    reading = await client.get(f"/v1/checkouts/{created['id']}", headers=who.headers)

    assert_problem(paying, 404, "not_found")
    assert_problem(reading, 404, "not_found")
    assert (await get_checkout(client, who=m.buyer, checkout_id=str(created["id"])))[
        "status"
    ] == "pending_payment"
    assert await provider_book(session) == []


async def test_an_order_cancelled_before_payment_is_not_charged(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, other, created = await _two_seller_checkout(client, session)
    orders = {o["seller_id"]: o for o in created["orders"]}
    dropped = orders[m.seller_id]
    cancelled = await post_cancel(
        client, who=m.buyer, order_id=dropped["id"], reason="Found it cheaper"
    )
    assert cancelled.status_code == 200, cancelled.text

    paid = await post_pay(client, who=m.buyer, checkout_id=str(created["id"]))

    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "paid"
    by_id = {o["id"]: o for o in body["orders"]}
    assert by_id[dropped["id"]]["status"] == "cancelled"
    kept = next(o for o in body["orders"] if o["id"] != dropped["id"])
    assert kept["status"] == "paid"
    assert kept["seller_id"] != m.seller_id
    assert body["total"] == {"amount": 2600, "currency": "USD"}
    assert await provider_book(session) == [("capture", 2600, True)]
    assert await escrow_of(session, order_id=kept["id"]) == 2600
    assert await escrow_of(session, order_id=dropped["id"]) == 0
    assert await balance(client, seller=other) == amounts()
    await reconcile_ok(client, admin=m.admin)


async def test_a_checkout_whose_every_order_the_buyer_cancelled_is_cancelled(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """`settle_checkout_if_cancelled`: "A checkout whose every order is cancelled is cancelled
    too" -- it must not keep offering a payment that can only fail."""
    m, _, created = await _two_seller_checkout(client, session)
    for order in created["orders"]:
        response = await post_cancel(client, who=m.buyer, order_id=order["id"])
        assert response.status_code == 200, response.text

    after = await get_checkout(client, who=m.buyer, checkout_id=str(created["id"]))

    assert [o["status"] for o in after["orders"]] == ["cancelled", "cancelled"]
    assert after["status"] == "cancelled"
    assert_problem(
        await post_pay(client, who=m.buyer, checkout_id=str(created["id"])),
        409,
        "invalid_transition",
    )
    assert await provider_book(session) == []
    await reconcile_ok(client, admin=m.admin)
