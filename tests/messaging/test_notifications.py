"""In-app notifications over HTTP: who hears about which domain event (each audience rule
driven by a real flow), that an event and its notifications share the emitting transaction,
the unread filter, summary, marking read and pages, what outbox events carry, and the
listing's `low_stock_threshold` field that feeds `listing.low_stock`."""

import json
import uuid
from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core import outbox
from app.core.clock import clock
from app.core.db import Database
from app.core.outbox import OutboxEvent
from app.messaging.notifications.models import Notification
from app.messaging.notifications.rules import RULES
from tests.factories.accounts import LoggedIn, create_user, register_and_login, relogin
from tests.factories.api import Json, assert_problem, json_ok, parse_time, usd
from tests.factories.apps import client_with, make_settings
from tests.factories.catalog import LISTINGS, draft_listing, listing_for_sale
from tests.factories.conversations import send, start
from tests.factories.disputes import (
    SHIP_BACK,
    completed_order,
    post_dispute,
    post_dispute_message,
    post_resolve,
    post_return,
    shipped_order,
    step_ok,
)
from tests.factories.notifications import NOTIFICATIONS, inbox
from tests.factories.orders import (
    Market,
    checkout,
    confirm,
    get_order,
    market,
    paid_order,
    pay,
    post_cancel,
    post_checkout,
    relogin_market,
    ship,
)
from tests.factories.payments import post_payout
from tests.factories.reviews import post_review
from tests.factories.sellers import FAILING_ACCOUNT, approved_seller
from tests.factories.worker import sweep

SUMMARY = f"{NOTIFICATIONS}/summary"
READ_ALL = f"{NOTIFICATIONS}/read-all"
CONVERSATIONS = "/v1/conversations"
ADMIN_LISTINGS = "/v1/admin/listings"


# --- helpers ----------------------------------------------------------------------------------


async def types(client: httpx.AsyncClient, who: LoggedIn) -> list[str]:
    """The event types of the caller's notifications, newest first."""
    return [n["type"] for n in await inbox(client, who=who)]


async def only(client: httpx.AsyncClient, who: LoggedIn, event_type: str) -> Json:
    """The caller's single notification of `event_type`, checked to carry the rule's title,
    a body in words (no template left over) and the link to what its event is about."""
    (found,) = [n for n in await inbox(client, who=who) if n["type"] == event_type]
    rule = RULES[event_type]
    assert found["title"] == rule.title
    assert isinstance(found["body"], str)
    assert found["body"]
    assert "{" not in found["body"]
    assert found["body"] != found["title"]
    assert found["resource_type"] == rule.link.type.value
    assert found["resource_id"] == found["data"][rule.link.key]
    assert found["read_at"] is None
    return found


async def unread_count(client: httpx.AsyncClient, who: LoggedIn) -> int:
    response = await client.get(SUMMARY, headers=who.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"unread"}
    count: int = body["unread"]
    return count


async def mark_read(client: httpx.AsyncClient, who: LoggedIn, notification_id: str) -> Json:
    found: Json = json_ok(
        await client.post(f"{NOTIFICATIONS}/{notification_id}/read", headers=who.headers)
    )
    return found


async def read_all(client: httpx.AsyncClient, who: LoggedIn) -> int:
    response = await client.post(READ_ALL, headers=who.headers)
    assert response.status_code == 200, response.text
    marked: int = response.json()["marked"]
    return marked


async def events(session: AsyncSession, event_type: str | None = None) -> list[OutboxEvent]:
    """Outbox rows, oldest first."""
    statement = select(OutboxEvent).order_by(OutboxEvent.id)
    if event_type is not None:
        statement = statement.where(OutboxEvent.type == event_type)
    return list(await session.scalars(statement))


async def count_rows(session: AsyncSession) -> tuple[int, int]:
    """(outbox rows, notification rows) in the whole database."""
    events_count = await session.scalar(select(func.count()).select_from(OutboxEvent))
    notifications_count = await session.scalar(select(func.count()).select_from(Notification))
    return int(events_count or 0), int(notifications_count or 0)


async def listing_with_threshold(
    client: httpx.AsyncClient,
    seller: LoggedIn,
    category_id: str,
    *,
    quantity: int,
    threshold: int | None,
) -> Json:
    """A published listing with `low_stock_threshold` set at creation."""
    body = {
        "title": f"Film camera {uuid.uuid4().hex[:6]}",
        "description": "Tested, with strap",
        "price": usd(1000),
        "quantity": quantity,
        "condition": "good",
        "category_id": category_id,
        "shipping_fee": usd(500),
        "low_stock_threshold": threshold,
    }
    created = await client.post(LISTINGS, json=body, headers=seller.headers)
    assert created.status_code == 201, created.text
    assert created.json()["low_stock_threshold"] == threshold
    published = await client.post(
        f"{LISTINGS}/{created.json()['id']}/publish", headers=seller.headers
    )
    assert published.status_code == 200, published.text
    listing: Json = published.json()
    assert listing["status"] == "active"
    return listing


async def buy(client: httpx.AsyncClient, who: LoggedIn, listing_id: str, quantity: int) -> Json:
    """An unpaid checkout of one listing (the stock is taken at checkout)."""
    return await checkout(client, who=who, items=[{"listing_id": listing_id, "quantity": quantity}])


async def quantity_of(client: httpx.AsyncClient, who: LoggedIn, listing_id: str) -> int:
    response = await client.get(f"{LISTINGS}/{listing_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    quantity: int = response.json()["quantity"]
    return quantity


async def ok(response: httpx.Response, status: int = 201) -> Json:
    body: Json = json_ok(response, status)
    return body


def order_data(m: Market, order_id: str) -> Json:
    """What every event about an order names: the order and both parties."""
    return {"order_id": order_id, "buyer_id": m.buyer.user_id, "seller_id": m.seller_id}


def carries(data: Json, expected: Json) -> bool:
    return all(data.get(key) == value for key, value in expected.items())


# --- orders -----------------------------------------------------------------------------------


async def test_the_seller_hears_of_an_order_once_paid_the_buyer_of_shipping(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await buy(client, m.buyer, listing["id"], 1)
    (order,) = created["orders"]
    ids = order_data(m, order["id"])

    # Checked out but not paid: no news for the shop (issue 15), the event is still emitted.
    assert await types(client, m.seller) == []
    assert len(await events(session, "order.created")) == 1
    assert await types(client, m.buyer) == []

    await pay(client, who=m.buyer, checkout_id=created["id"])
    paid = await only(client, m.seller, "order.paid")
    assert carries(paid["data"], ids)
    assert paid["data"]["previous_status"] == "pending_payment"
    assert paid["data"]["status"] == "paid"
    assert paid["data"]["total"] == {"amount": 1500, "currency": "USD"}
    assert (paid["resource_type"], paid["resource_id"]) == ("order", order["id"])
    assert "15.00 USD" in paid["body"]
    assert await types(client, m.buyer) == []

    await ship(client, who=m.seller, order_id=order["id"])
    shipped = await only(client, m.buyer, "order.shipped")
    assert carries(shipped["data"], ids)
    assert shipped["data"]["carrier"] == "sandbox"
    assert shipped["data"]["actor_id"] == m.seller.user_id
    assert (
        shipped["body"] == "Your order of 15.00 USD is on its way with Sandbox carrier (testing)."
    )

    assert await types(client, m.seller) == ["order.paid"]
    assert await types(client, m.buyer) == ["shipment.delivered", "order.shipped"]
    # Nobody else hears of it, not even the admin who approved the shop.
    assert await types(client, m.admin) == []
    assert await types(client, await register_and_login(client)) == []


async def test_each_seller_of_a_split_checkout_hears_of_their_own_order_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other_seller, other_seller_id = await approved_seller(client, session, admin=m.admin)
    mine = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    theirs = await listing_for_sale(client, seller=other_seller, category_id=m.category_id)

    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": mine["id"], "quantity": 1},
            {"listing_id": theirs["id"], "quantity": 1},
        ],
    )
    order_of = {o["seller_id"]: o["id"] for o in created["orders"]}
    assert set(order_of) == {m.seller_id, other_seller_id}
    await pay(client, who=m.buyer, checkout_id=created["id"])

    for seller, seller_id in ((m.seller, m.seller_id), (other_seller, other_seller_id)):
        notice = await only(client, seller, "order.paid")
        assert notice["data"]["order_id"] == order_of[seller_id]
        assert notice["data"]["seller_id"] == seller_id
        assert notice["resource_id"] == order_of[seller_id]
        assert await types(client, seller) == ["order.paid"]
    assert await types(client, m.buyer) == []


async def test_the_buyer_is_reminded_once_before_the_order_completes_on_its_own(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)
    auto_complete_at = parse_time(order["auto_complete_at"])
    lead = settings.completion_reminder_before

    clock.advance(settings.auto_complete_after - lead - timedelta(minutes=1))
    assert (await sweep(database, settings))["remind_completion_due"] == 0
    m = await relogin_market(client, market=m)
    assert await types(client, m.buyer) == ["shipment.delivered", "order.shipped"]

    clock.advance(timedelta(minutes=2))
    assert (await sweep(database, settings))["remind_completion_due"] == 1
    assert (await sweep(database, settings))["remind_completion_due"] == 0
    m = await relogin_market(client, market=m)
    reminder = await only(client, m.buyer, "order.delivery_window_ending")
    assert carries(reminder["data"], order_data(m, order["id"]))
    assert parse_time(reminder["data"]["auto_complete_at"]) == auto_complete_at
    assert reminder["data"]["actor_id"] is None
    assert reminder["data"]["actor_role"] == "system"
    assert await types(client, m.buyer) == [
        "order.delivery_window_ending",
        "shipment.delivered",
        "order.shipped",
    ]
    assert "order.delivery_window_ending" not in await types(client, m.seller)
    assert len(await events(session, "order.delivery_window_ending")) == 1

    # It completes on its own: the seller hears of it, and the buyer is not reminded again.
    clock.advance(lead)
    done = await sweep(database, settings)
    assert done["auto_complete_orders"] == 1
    assert done["remind_completion_due"] == 0
    m = await relogin_market(client, market=m)
    assert carries((await only(client, m.seller, "order.completed"))["data"], {"actor_id": None})
    assert await types(client, m.buyer) == [
        "order.delivery_window_ending",
        "shipment.delivered",
        "order.shipped",
    ]


async def test_orders_settled_before_the_window_are_not_reminded(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    confirmed = await shipped_order(client, market=m)
    await confirm(client, who=m.buyer, order_id=confirmed["id"])
    disputed = await shipped_order(client, market=m)
    await ok(await post_dispute(client, who=m.buyer, order_id=disputed["id"]))

    clock.advance(settings.auto_complete_after - settings.completion_reminder_before)
    assert (await sweep(database, settings))["remind_completion_due"] == 0
    assert await events(session, "order.delivery_window_ending") == []


async def test_an_order_already_due_to_complete_is_not_reminded(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """After worker downtime the order completes in the sweep: a reminder would be a lie."""
    m = await market(client, session)
    await shipped_order(client, market=m)

    clock.advance(settings.auto_complete_after + timedelta(days=1))
    done = await sweep(database, settings)

    assert (done["remind_completion_due"], done["auto_complete_orders"]) == (0, 1)
    assert await events(session, "order.delivery_window_ending") == []


async def test_the_seller_hears_when_the_buyer_confirms_receipt(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    completed = await only(client, m.seller, "order.completed")
    assert carries(completed["data"], order_data(m, order["id"]))
    assert completed["data"]["actor_id"] == m.buyer.user_id
    assert await types(client, m.seller) == ["order.completed", "order.paid"]
    assert await types(client, m.buyer) == ["shipment.delivered", "order.shipped"]


@pytest.mark.parametrize(
    ("actor", "paid", "told"),
    [
        # Unpaid: the shop never heard of the order, so it does not hear of its end either.
        ("buyer", False, set()),
        ("seller", True, {"buyer"}),
        ("admin", True, {"buyer", "seller"}),
    ],
)
async def test_a_cancellation_is_told_to_the_other_party_not_the_one_who_cancelled(
    client: httpx.AsyncClient, session: AsyncSession, actor: str, paid: bool, told: set[str]
) -> None:
    m = await market(client, session)
    if paid:
        _listing, order = await paid_order(client, market=m)
    else:
        listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
        (order,) = (await buy(client, m.buyer, listing["id"], 1))["orders"]
    who = {"buyer": m.buyer, "seller": m.seller, "admin": m.admin}[actor]

    cancelled = await post_cancel(
        client, who=who, order_id=order["id"], reason="out of stock after all"
    )
    assert cancelled.status_code == 200, cancelled.text

    for party in ("buyer", "seller"):
        person = m.buyer if party == "buyer" else m.seller
        heard = [n for n in await inbox(client, who=person) if n["type"] == "order.cancelled"]
        if party in told:
            (notice,) = heard
            assert carries(notice["data"], order_data(m, order["id"]))
            assert notice["data"]["actor_id"] == who.user_id
            assert notice["data"]["reason"] == "out of stock after all"
        else:
            assert heard == []
    assert await types(client, m.admin) == []


async def test_an_expired_checkout_is_told_to_the_buyer_only(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    (order,) = (await buy(client, m.buyer, listing["id"], 1))["orders"]

    clock.advance(settings.payment_expiry + timedelta(minutes=1))
    assert (await sweep(database, settings))["expire_unpaid_checkouts"] == 1
    m = await relogin_market(client, market=m)

    notice = await only(client, m.buyer, "order.cancelled")
    assert carries(notice["data"], order_data(m, order["id"]))
    assert notice["data"]["actor_id"] is None
    assert notice["data"]["actor_role"] == "system"
    assert await types(client, m.seller) == []


# --- returns ----------------------------------------------------------------------------------


async def test_each_return_step_is_told_to_the_party_who_acts_next(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    seller_before = await types(client, m.seller)
    buyer_before = await types(client, m.buyer)

    requested = await ok(await post_return(client, who=m.buyer, order=order))
    rid = requested["id"]
    ids = {**order_data(m, order["id"]), "return_id": rid}
    assert carries((await only(client, m.seller, "return.requested"))["data"], ids)
    assert await types(client, m.buyer) == buyer_before

    await step_ok(client, who=m.seller, return_id=rid, step="approve")
    assert carries((await only(client, m.buyer, "return.approved"))["data"], ids)

    await step_ok(client, who=m.buyer, return_id=rid, step="ship-back", body=SHIP_BACK)
    assert carries((await only(client, m.seller, "return.shipped_back"))["data"], ids)

    received = await step_ok(client, who=m.seller, return_id=rid, step="receive")
    assert received["status"] == "received"
    assert carries((await only(client, m.buyer, "return.received"))["data"], ids)
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "refunded"

    # The order's own refund step has no audience of its own.
    assert await types(client, m.seller) == [
        "return.shipped_back",
        "return.requested",
        *seller_before,
    ]
    assert await types(client, m.buyer) == ["return.received", "return.approved", *buyer_before]
    assert len(await events(session, "order.refunded")) == 1


async def test_a_rejected_return_is_told_to_the_buyer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    rid = (await ok(await post_return(client, who=m.buyer, order=order)))["id"]

    await step_ok(
        client, who=m.seller, return_id=rid, step="reject", body={"reason": "Used, not damaged"}
    )

    rejected = await only(client, m.buyer, "return.rejected")
    assert carries(rejected["data"], {**order_data(m, order["id"]), "return_id": rid})
    assert await types(client, m.buyer) == [
        "return.rejected",
        "shipment.delivered",
        "order.shipped",
    ]
    assert "return.rejected" not in await types(client, m.seller)


# --- disputes ---------------------------------------------------------------------------------


async def test_dispute_steps_go_to_the_party_who_did_not_act_and_resolution_to_both(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)

    did = (await ok(await post_dispute(client, who=m.buyer, order_id=order["id"])))["id"]
    ids = {**order_data(m, order["id"]), "dispute_id": did}
    opened = await only(client, m.seller, "dispute.opened")
    assert carries(opened["data"], ids)
    assert opened["data"]["reason"] == "not_as_described"
    assert await types(client, m.buyer) == ["shipment.delivered", "order.shipped"]

    await ok(
        await post_dispute_message(
            client, who=m.seller, dispute_id=did, body="It was fine when shipped."
        )
    )
    answered = await only(client, m.buyer, "dispute.answered")
    assert carries(answered["data"], ids)
    assert answered["data"]["actor_id"] == m.seller.user_id
    assert "dispute.answered" not in await types(client, m.seller)

    await ok(
        await post_dispute_message(
            client, who=m.buyer, dispute_id=did, body="Here is how it arrived."
        )
    )
    assert carries((await only(client, m.seller, "dispute.answered"))["data"], ids)
    assert [t for t in await types(client, m.buyer) if t == "dispute.answered"] == [
        "dispute.answered"
    ]

    # Escalation by the buyer goes to the seller; an admin's note goes to both.
    await ok(await client.post(f"/v1/disputes/{did}/escalate", headers=m.buyer.headers), 200)
    assert carries((await only(client, m.seller, "dispute.escalated"))["data"], ids)
    assert "dispute.escalated" not in await types(client, m.buyer)
    await ok(
        await post_dispute_message(client, who=m.admin, dispute_id=did, body="Looking into it.")
    )

    resolved = await ok(
        await post_resolve(client, admin=m.admin, dispute_id=did, outcome="refund_buyer"), 200
    )
    assert resolved["status"] == "resolved"
    for person in (m.buyer, m.seller):
        notice = await only(client, person, "dispute.resolved")
        assert carries(notice["data"], ids)
        assert notice["data"]["actor_id"] == m.admin.user_id

    assert await types(client, m.buyer) == [
        "dispute.resolved",
        "dispute.answered",
        "dispute.answered",
        "shipment.delivered",
        "order.shipped",
    ]
    assert await types(client, m.seller) == [
        "dispute.resolved",
        "dispute.answered",
        "dispute.escalated",
        "dispute.answered",
        "dispute.opened",
        "order.paid",
    ]
    assert await types(client, m.admin) == []


async def test_a_dispute_the_worker_resolves_is_told_to_both_parties(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)
    did = (await ok(await post_dispute(client, who=m.buyer, order_id=order["id"])))["id"]

    clock.advance(settings.dispute_response_time + timedelta(minutes=1))
    assert (await sweep(database, settings))["resolve_unanswered_disputes"] == 1
    m = await relogin_market(client, market=m)

    for person in (m.buyer, m.seller):
        notice = await only(client, person, "dispute.resolved")
        assert carries(notice["data"], {**order_data(m, order["id"]), "dispute_id": did})
        assert notice["data"]["actor_id"] is None
        assert notice["data"]["actor_role"] == "system"


# --- reviews ----------------------------------------------------------------------------------


async def test_published_reviews_are_told_to_the_person_reviewed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    await ok(
        await post_review(
            client, who=m.buyer, order_id=order["id"], rating=4, comment="Good seller"
        )
    )
    # Written but blind: nobody hears of it until both are published.
    assert "review.published" not in await types(client, m.seller)
    assert await events(session, "review.published") == []

    await ok(
        await post_review(
            client, who=m.seller, order_id=order["id"], rating=5, comment="Quick payer"
        )
    )

    about_seller = await only(client, m.seller, "review.published")
    about_buyer = await only(client, m.buyer, "review.published")
    assert about_seller["data"]["about"] == "seller"
    assert about_buyer["data"]["about"] == "buyer"
    for notice in (about_seller, about_buyer):
        assert carries(notice["data"], order_data(m, order["id"]))
        assert notice["data"]["review_id"]
    assert about_seller["data"]["review_id"] != about_buyer["data"]["review_id"]


async def test_a_review_published_by_the_window_closing_is_told_to_its_subject_only(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    await ok(
        await post_review(
            client, who=m.seller, order_id=order["id"], rating=3, comment="Slow to pay"
        )
    )

    clock.advance(settings.review_window + timedelta(minutes=1))
    assert (await sweep(database, settings))["publish_due_reviews"] == 1
    m = await relogin_market(client, market=m)

    about_buyer = await only(client, m.buyer, "review.published")
    assert about_buyer["data"]["about"] == "buyer"
    assert "review.published" not in await types(client, m.seller)


# --- payouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "outcome"), [(None, "payout.paid"), (FAILING_ACCOUNT, "payout.failed")]
)
async def test_a_settled_payout_is_told_to_the_seller(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    account: str | None,
    outcome: str,
) -> None:
    m = (
        await market(client, session)
        if account is None
        else await market(client, session, payout_account=account)
    )
    await completed_order(client, market=m, price=1000, shipping=500)
    payout = await ok(await post_payout(client, seller=m.seller, amount=1350))
    assert await types(client, m.seller) == ["order.completed", "order.paid"]

    assert (await sweep(database, settings))["settle_payouts"] == 1

    seller = await relogin(client, who=m.seller)
    notice = await only(client, seller, outcome)
    assert notice["data"]["payout_id"] == payout["id"]
    assert notice["data"]["seller_id"] == m.seller_id
    assert notice["data"]["amount"] == {"amount": 1350, "currency": "USD"}
    failure = None if outcome == "payout.paid" else "the bank refused the transfer"
    assert notice["data"]["failure_reason"] == failure
    buyer = await relogin(client, who=m.buyer)
    assert await types(client, buyer) == ["shipment.delivered", "order.shipped"]


# --- listings ---------------------------------------------------------------------------------


async def test_low_stock_is_told_once_when_a_sale_crosses_the_threshold(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_with_threshold(client, m.seller, m.category_id, quantity=6, threshold=2)
    lid = listing["id"]

    await buy(client, m.buyer, lid, 3)  # 6 → 3: still above
    assert await events(session, "listing.low_stock") == []

    await buy(client, m.buyer, lid, 1)  # 3 → 2: crosses
    notice = await only(client, m.seller, "listing.low_stock")
    assert notice["data"] == {
        "listing_id": lid,
        "seller_id": m.seller_id,
        "title": listing["title"],
        "quantity": 2,
        "low_stock_threshold": 2,
    }

    await buy(client, m.buyer, lid, 1)  # 2 → 1: already low
    await buy(client, m.buyer, lid, 1)  # 1 → 0: sold out, still no second notice
    assert await quantity_of(client, m.seller, lid) == 0
    assert len(await events(session, "listing.low_stock")) == 1
    assert [t for t in await types(client, m.seller) if t == "listing.low_stock"] == [
        "listing.low_stock"
    ]
    assert "listing.low_stock" not in await types(client, m.buyer)

    # Restocked above the threshold, the next crossing is news again.
    restocked = await client.patch(
        f"{LISTINGS}/{lid}", json={"quantity": 5}, headers=m.seller.headers
    )
    assert restocked.status_code == 200, restocked.text
    await buy(client, m.buyer, lid, 3)  # 5 → 2
    assert [e.data["quantity"] for e in await events(session, "listing.low_stock")] == [2, 2]


async def test_low_stock_is_never_told_without_a_threshold(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    unset = await listing_with_threshold(
        client, m.seller, m.category_id, quantity=3, threshold=None
    )
    turned_off = await listing_with_threshold(
        client, m.seller, m.category_id, quantity=3, threshold=2
    )
    patched = await client.patch(
        f"{LISTINGS}/{turned_off['id']}",
        json={"low_stock_threshold": None},
        headers=m.seller.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["low_stock_threshold"] is None

    for listing in (unset, turned_off):
        await buy(client, m.buyer, listing["id"], 2)
        await buy(client, m.buyer, listing["id"], 1)  # sold out
        assert await quantity_of(client, m.seller, listing["id"]) == 0
    assert await events(session, "listing.low_stock") == []
    assert "listing.low_stock" not in await types(client, m.seller)


async def test_a_removed_listing_is_told_to_its_seller(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    removed = await client.post(
        f"{ADMIN_LISTINGS}/{listing['id']}/remove",
        json={"reason": "counterfeit"},
        headers=m.admin.headers,
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["status"] == "removed"

    notice = await only(client, m.seller, "listing.removed")
    assert notice["data"] == {
        "listing_id": listing["id"],
        "seller_id": m.seller_id,
        "title": listing["title"],
        "status": "removed",
        "reason": "counterfeit",
    }
    assert await types(client, m.seller) == ["listing.removed"]
    assert await types(client, m.admin) == []
    assert await types(client, m.buyer) == []


async def test_moderation_decisions_are_told_to_the_seller(
    session: AsyncSession, database: Database, settings: Settings
) -> None:
    async with client_with(
        database, make_settings(settings.database_url, listing_moderation="required")
    ) as client:
        m = await market(client, session)
        approved = await draft_listing(client, seller=m.seller, category_id=m.category_id)
        rejected = await draft_listing(client, seller=m.seller, category_id=m.category_id)
        for listing, action in ((approved, "approve"), (rejected, "reject")):
            published = await client.post(
                f"{LISTINGS}/{listing['id']}/publish", headers=m.seller.headers
            )
            assert published.json()["status"] == "pending_review", published.text
            decided = await client.post(
                f"{ADMIN_LISTINGS}/{listing['id']}/{action}",
                json={"reason": "blurry photos"} if action == "reject" else None,
                headers=m.admin.headers,
            )
            assert decided.status_code == 200, decided.text

        assert await types(client, m.seller) == ["listing.rejected", "listing.approved"]
        ok_notice = await only(client, m.seller, "listing.approved")
        assert ok_notice["data"]["listing_id"] == approved["id"]
        assert ok_notice["data"]["status"] == "active"
        no_notice = await only(client, m.seller, "listing.rejected")
        assert no_notice["data"]["listing_id"] == rejected["id"]
        assert no_notice["data"]["reason"] == "blurry photos"


# --- messages ---------------------------------------------------------------------------------


async def test_a_message_is_told_to_its_recipient_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    conversation = await start(
        client, who=m.buyer, listing_id=listing["id"], message="Still available?"
    )
    to_seller = await only(client, m.seller, "message.created")
    assert to_seller["data"]["conversation_id"] == conversation["id"]
    assert to_seller["data"]["sender_id"] == m.buyer.user_id
    assert to_seller["data"]["recipient_id"] == m.seller.user_id
    assert await types(client, m.buyer) == []

    reply = await send(client, who=m.seller, conversation_id=conversation["id"], body="Yes it is")
    to_buyer = await only(client, m.buyer, "message.created")
    assert to_buyer["data"]["message_id"] == reply["id"]
    assert to_buyer["data"]["recipient_id"] == m.buyer.user_id
    assert await types(client, m.seller) == ["message.created"]
    assert await types(client, m.admin) == []


# --- one transaction --------------------------------------------------------------------------


async def test_a_checkout_that_fails_writes_no_event_and_no_notification(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = await market(client, session)
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    # The low-stock listing's line would cross its threshold, but the second seller's line
    # runs short: every line is checked before anything is written or announced.
    low = await listing_with_threshold(client, m.seller, m.category_id, quantity=3, threshold=2)
    scarce = await listing_for_sale(
        client, seller=other_seller, category_id=m.category_id, quantity=1
    )
    before = await count_rows(session)

    emitted: list[str] = []
    real_emit_all = outbox.emit_all

    async def spy(db: AsyncSession, emissions: Sequence[outbox.Emission]) -> list[OutboxEvent]:
        emitted.extend(str(e.type) for e in emissions)
        return await real_emit_all(db, emissions)

    monkeypatch.setattr(outbox, "emit_all", spy)
    failed = await post_checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": scarce["id"], "quantity": 2},
            {"listing_id": low["id"], "quantity": 1},
        ],
    )
    problem = assert_problem(failed, 409, "insufficient_stock")
    assert problem["listing_id"] == scarce["id"]
    assert emitted == []

    assert await count_rows(session) == before
    assert await events(session, "listing.low_stock") == []
    assert await types(client, m.seller) == []
    assert await unread_count(client, m.seller) == 0
    assert await quantity_of(client, m.seller, low["id"]) == 3
    assert await quantity_of(client, other_seller, scarce["id"]) == 1

    # The same line alone succeeds and is announced.
    await buy(client, m.buyer, low["id"], 1)
    assert emitted == ["listing.low_stock", "order.created"]
    assert await types(client, m.seller) == ["listing.low_stock"]


async def test_a_rolled_back_unit_of_work_takes_its_events_and_notifications_with_it(
    session: AsyncSession, database: Database
) -> None:
    user = await create_user(session)
    before = await count_rows(session)

    emitted: list[uuid.UUID] = []

    async def emit_then_fail() -> None:
        async with database.session_scope() as unit:
            event = await outbox.emit(
                unit, "message.created", seller_id=None, data={"recipient_id": user.id}
            )
            emitted.append(event.id)
            written = await unit.scalars(
                select(Notification).where(Notification.user_id == user.id)
            )
            assert [n.event_id for n in written] == [event.id]
            raise RuntimeError("after emitting")

    with pytest.raises(RuntimeError, match="after emitting"):
        await emit_then_fail()

    (event_id,) = emitted
    assert await session.get(OutboxEvent, event_id) is None
    assert await count_rows(session) == before
    left = await session.scalars(select(Notification).where(Notification.user_id == user.id))
    assert list(left) == []


# --- reading and marking ----------------------------------------------------------------------


async def _seller_with_messages(
    client: httpx.AsyncClient, session: AsyncSession, count: int
) -> tuple[Market, list[str]]:
    """A market whose seller has `count` message notifications; their ids, oldest first."""
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    conversation = await start(client, who=m.buyer, listing_id=listing["id"], message="message 1")
    for n in range(2, count + 1):
        await send(client, who=m.buyer, conversation_id=conversation["id"], body=f"message {n}")
    items = await inbox(client, who=m.seller)
    assert [n["type"] for n in items] == ["message.created"] * count
    return m, [n["id"] for n in reversed(items)]


async def test_unread_filter_summary_and_marking_read(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, ids = await _seller_with_messages(client, session, 4)
    await send(
        client,
        who=m.seller,
        conversation_id=(await inbox(client, who=m.seller))[0]["data"]["conversation_id"],
        body="hi",
    )
    assert await unread_count(client, m.seller) == 4
    assert await unread_count(client, m.buyer) == 1

    marked = await mark_read(client, m.seller, ids[1])
    assert marked["id"] == ids[1]
    assert marked["read_at"] is not None
    again = await mark_read(client, m.seller, ids[1])
    assert again["read_at"] == marked["read_at"]  # marking twice keeps the first time

    assert await unread_count(client, m.seller) == 3
    unread = await inbox(client, who=m.seller, unread=True)
    assert [n["id"] for n in unread] == [ids[3], ids[2], ids[0]]
    assert all(n["read_at"] is None for n in unread)
    everything = await inbox(client, who=m.seller)
    assert [n["id"] for n in everything] == list(reversed(ids))
    assert [n["read_at"] is not None for n in everything] == [False, False, True, False]
    explicit = await client.get(NOTIFICATIONS, params={"unread": "false"}, headers=m.seller.headers)
    assert [n["id"] for n in explicit.json()["items"]] == list(reversed(ids))

    assert await read_all(client, m.seller) == 3
    assert await read_all(client, m.seller) == 0
    assert await unread_count(client, m.seller) == 0
    assert await inbox(client, who=m.seller, unread=True) == []
    assert len(await inbox(client, who=m.seller)) == 4
    # Another person's notifications are untouched.
    assert await unread_count(client, m.buyer) == 1
    assert len(await inbox(client, who=m.buyer, unread=True)) == 1


async def test_marking_someone_elses_or_an_unknown_notification_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, ids = await _seller_with_messages(client, session, 1)
    for who in (m.buyer, m.admin, await register_and_login(client)):
        assert_problem(
            await client.post(f"{NOTIFICATIONS}/{ids[0]}/read", headers=who.headers),
            404,
            "not_found",
        )
        assert await read_all(client, who) == 0
    assert await unread_count(client, m.seller) == 1

    assert_problem(
        await client.post(f"{NOTIFICATIONS}/{uuid.uuid4()}/read", headers=m.seller.headers),
        404,
        "not_found",
    )
    problem = assert_problem(
        await client.post(f"{NOTIFICATIONS}/not-a-uuid/read", headers=m.seller.headers),
        422,
        "validation_error",
    )
    assert problem["errors"]
    assert await unread_count(client, m.seller) == 1


async def test_notifications_come_newest_first_in_pages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, ids = await _seller_with_messages(client, session, 5)
    newest_first = list(reversed(ids))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(NOTIFICATIONS, params=params, headers=m.seller.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [n["id"] for n in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    assert pages == 3

    # A notification arriving after the first page does not shift the next ones.
    first = (await client.get(NOTIFICATIONS, params={"limit": 2}, headers=m.seller.headers)).json()
    conversation_id = (await inbox(client, who=m.seller))[0]["data"]["conversation_id"]
    await send(client, who=m.buyer, conversation_id=conversation_id, body="message 6")
    second = await client.get(
        NOTIFICATIONS,
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=m.seller.headers,
    )
    assert [n["id"] for n in second.json()["items"]] == newest_first[2:4]

    # The unread filter pages the same way.
    await mark_read(client, m.seller, ids[3])
    unread_first = (
        await client.get(
            NOTIFICATIONS, params={"limit": 2, "unread": "true"}, headers=m.seller.headers
        )
    ).json()
    unread_rest = (
        await client.get(
            NOTIFICATIONS,
            params={"limit": 10, "unread": "true", "cursor": unread_first["next_cursor"]},
            headers=m.seller.headers,
        )
    ).json()
    unread_ids = [n["id"] for n in unread_first["items"] + unread_rest["items"]]
    assert len(unread_ids) == 5
    assert unread_ids[1:] == [ids[4], ids[2], ids[1], ids[0]]
    assert unread_rest["next_cursor"] is None

    assert_problem(
        await client.get(NOTIFICATIONS, params={"cursor": "garbage"}, headers=m.seller.headers),
        422,
        "invalid_cursor",
    )
    assert_problem(
        await client.get(NOTIFICATIONS, params={"limit": 0}, headers=m.seller.headers),
        422,
        "validation_error",
    )


@pytest.mark.parametrize("spelling", ["1", "0", "yes", "no", "True", ""])
async def test_the_unread_filter_takes_true_or_false_only(
    client: httpx.AsyncClient, spelling: str
) -> None:
    """A query-string boolean is `true` or `false`, as OpenAPI clients write it; `1` and
    `yes` were read as true, `0` and `no` as false."""
    who = await register_and_login(client)

    response = await client.get(NOTIFICATIONS, params={"unread": spelling}, headers=who.headers)

    assert_problem(response, 422, "validation_error")
    for accepted in ("true", "false"):
        listed = await client.get(NOTIFICATIONS, params={"unread": accepted}, headers=who.headers)
        assert listed.status_code == 200, listed.text


async def test_notifications_need_a_signed_in_caller(client: httpx.AsyncClient) -> None:
    notification_id = uuid.uuid4()
    for response in (
        await client.get(NOTIFICATIONS),
        await client.get(SUMMARY),
        await client.post(f"{NOTIFICATIONS}/{notification_id}/read"),
        await client.post(READ_ALL),
        await client.get(NOTIFICATIONS, headers={"Authorization": "Bearer not-a-token"}),
    ):
        assert_problem(response, 401, "invalid_token")


# --- what the events carry --------------------------------------------------------------------


async def test_order_events_name_the_order_and_both_parties_and_never_a_reviews_words(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    await ok(
        await post_review(
            client, who=m.buyer, order_id=order["id"], rating=2, comment="Zebra-quartz"
        )
    )
    await ok(
        await post_review(client, who=m.seller, order_id=order["id"], rating=4, comment="Yak-umber")
    )
    rid = (await ok(await post_return(client, who=m.buyer, order=order)))["id"]
    await step_ok(
        client, who=m.seller, return_id=rid, step="reject", body={"reason": "Used, not damaged"}
    )
    did = (await ok(await post_dispute(client, who=m.buyer, order_id=order["id"])))["id"]
    await ok(await post_dispute_message(client, who=m.seller, dispute_id=did, body="It was fine."))
    await ok(
        await post_resolve(client, admin=m.admin, dispute_id=did, outcome="release_to_seller"), 200
    )

    about_order = [
        e
        for e in await events(session)
        if e.type.split(".")[0] in ("order", "return", "dispute", "review")
    ]
    assert [e.type for e in about_order] == [
        "order.created",
        "order.paid",
        "order.shipped",
        "order.completed",
        "review.published",
        "review.published",
        "return.requested",
        "return.rejected",
        "order.disputed",
        "dispute.opened",
        "dispute.answered",
        "order.completed",
        "dispute.resolved",
    ]
    for event in about_order:
        assert carries(event.data, order_data(m, order["id"])), event.data
        assert str(event.seller_id) == m.seller_id
    for event in [e for e in about_order if e.type == "review.published"]:
        assert "rating" not in event.data
        assert "comment" not in event.data
        assert set(event.data) >= {"review_id", "about"}
    everything = json.dumps([e.data for e in await events(session)])
    assert "Zebra-quartz" not in everything
    assert "Yak-umber" not in everything

    # Each notification carries its event's data and points at it.
    rows = list(await session.scalars(select(Notification).order_by(Notification.id)))
    by_id = {e.id: e for e in await events(session)}
    assert rows
    for row in rows:
        assert row.event_id is not None
        assert row.data == by_id[row.event_id].data
        assert row.type == by_id[row.event_id].type
    assert "Zebra-quartz" not in json.dumps([r.data for r in rows])


# --- the listing's low_stock_threshold --------------------------------------------------------


async def test_the_threshold_is_the_sellers_to_see_and_change(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_with_threshold(client, m.seller, m.category_id, quantity=5, threshold=3)
    path = f"{LISTINGS}/{listing['id']}"
    own_path = f"/v1/sellers/me/listings/{listing['id']}"  # issue 15: the seller's own view
    assert listing["low_stock_threshold"] == 3

    assert (await client.get(own_path, headers=m.seller.headers)).json()["low_stock_threshold"] == 3
    mine = await client.get("/v1/sellers/me/listings", headers=m.seller.headers)
    (own,) = [x for x in mine.json()["items"] if x["id"] == listing["id"]]
    assert own["low_stock_threshold"] == 3
    # The public, another buyer, the seller on the public page and search see no threshold.
    for headers in ({}, m.buyer.headers, m.seller.headers):
        assert "low_stock_threshold" not in (await client.get(path, headers=headers)).json()
    found = await client.get(LISTINGS, params={"seller": m.seller_id})
    (public,) = [x for x in found.json()["items"] if x["id"] == listing["id"]]
    assert "low_stock_threshold" not in public

    # Another field's edit leaves it; null turns it off; a number turns it on again.
    edited = await client.patch(path, json={"quantity": 4}, headers=m.seller.headers)
    assert edited.json()["low_stock_threshold"] == 3
    off = await client.patch(path, json={"low_stock_threshold": None}, headers=m.seller.headers)
    assert off.status_code == 200, off.text
    assert off.json()["low_stock_threshold"] is None
    assert (await client.get(own_path, headers=m.seller.headers)).json()[
        "low_stock_threshold"
    ] is None
    on = await client.patch(path, json={"low_stock_threshold": 0}, headers=m.seller.headers)
    assert on.json()["low_stock_threshold"] == 0


@pytest.mark.parametrize("bad", [-1, "2", 1.5, True, 10**9])
async def test_a_bad_threshold_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession, bad: object
) -> None:
    m = await market(client, session)
    listing = await listing_with_threshold(client, m.seller, m.category_id, quantity=5, threshold=3)
    path = f"{LISTINGS}/{listing['id']}"

    problem = assert_problem(
        await client.patch(path, json={"low_stock_threshold": bad}, headers=m.seller.headers),
        422,
        "validation_error",
    )
    assert problem["errors"]
    body = {
        "title": "Tripod",
        "price": usd(1000),
        "condition": "good",
        "category_id": m.category_id,
        "low_stock_threshold": bad,
    }
    assert_problem(
        await client.post(LISTINGS, json=body, headers=m.seller.headers), 422, "validation_error"
    )
    own_path = f"/v1/sellers/me/listings/{listing['id']}"  # issue 15: the seller's own view
    assert (await client.get(own_path, headers=m.seller.headers)).json()["low_stock_threshold"] == 3
