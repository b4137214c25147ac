"""The trust-and-safety journeys the issue's must-show lists, end to end through the API:
each finishes with the balances right to the cent and the ledger reconciling.

Every order here is one listing at 1000 + 500 shipping = 1500; the platform keeps 10 %
(150) on completion, so the seller nets 1350."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.api import Json
from tests.factories.disputes import (
    completed_order,
    get_dispute,
    post_dispute,
    post_dispute_message,
    post_resolve,
    post_return,
    return_step,
    shipped_order,
)
from tests.factories.orders import (
    Market,
    get_order,
    market,
    order_events,
    paid_order,
    relogin_market,
)
from tests.factories.payments import (
    amounts,
    balance,
    platform_revenue,
    post_payout,
    provider_book,
    reconcile_ok,
)
from tests.factories.reviews import post_review, write_review
from tests.factories.worker import sweep

NET = 1350


async def _dispute_id(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    dispute_id: str = response.json()["id"]
    return dispute_id


async def _order_state(client: httpx.AsyncClient, m: Market, order: Json) -> tuple[str, int]:
    read = await get_order(client, who=m.buyer, order_id=order["id"])
    return read["status"], read["refunded"]["amount"]


def _subjects(events: list[Json]) -> list[tuple[str, str, str]]:
    return [(e["subject"], e["action"], e["to_status"]) for e in events]


async def test_reviews_publish_together_when_both_are_written(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    first = await write_review(
        client, who=m.buyer, order_id=order["id"], rating=5, comment="Lovely"
    )
    assert first["published"] is False
    # Blind: neither the seller nor the public sees it yet.
    hidden = await client.get(f"/v1/reviews/{first['id']}", headers=m.seller.headers)
    assert hidden.status_code == 404
    assert (await client.get(f"/v1/sellers/{m.seller_id}")).json()["rating"]["count"] == 0

    second = await write_review(
        client, who=m.seller, order_id=order["id"], rating=4, comment="Paid fast"
    )

    as_seller = await client.get(f"/v1/reviews/{first['id']}", headers=m.seller.headers)
    as_public = await client.get(f"/v1/reviews/{second['id']}")
    assert as_seller.json()["published"] is as_public.json()["published"] is True
    assert as_seller.json()["published_at"] == as_public.json()["published_at"]
    storefront = (await client.get(f"/v1/sellers/{m.seller_id}")).json()
    assert (storefront["rating"]["count"], storefront["rating"]["average"]) == (1, 5.0)
    profile = (await client.get(f"/v1/users/{m.buyer.user_id}")).json()
    assert (profile["buyer_rating"]["count"], profile["buyer_rating"]["average"]) == (1, 4.0)
    review_steps = [
        s for s in _subjects(await order_events(client, who=m.buyer, order_id=order["id"]))
    ]
    assert review_steps[-4:] == [
        ("review", "write", "written"),
        ("review", "write", "written"),
        ("review", "publish", "published"),
        ("review", "publish", "published"),
    ]


async def test_a_lone_review_publishes_when_the_window_closes(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    written = await write_review(
        client, who=m.buyer, order_id=order["id"], rating=2, comment="Slow"
    )

    clock.advance(settings.review_window - timedelta(seconds=1))
    await sweep(database, settings)
    assert (await client.get(f"/v1/reviews/{written['id']}")).status_code == 404

    clock.advance(timedelta(seconds=2))
    done = await sweep(database, settings)
    m = await relogin_market(client, market=m)

    assert done["publish_due_reviews"] == 1
    public = await client.get(f"/v1/reviews/{written['id']}")
    assert public.status_code == 200, public.text
    assert public.json()["rating"] == 2
    late = await post_review(client, who=m.seller, order_id=order["id"])
    assert late.status_code == 409
    assert late.json()["code"] == "review_window_closed"


async def test_return_approved_shipped_back_received_refunds_the_buyer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    assert await balance(client, seller=m.seller) == amounts(available=NET)

    requested = await post_return(client, who=m.buyer, order=order, reason="damaged")
    assert requested.status_code == 201, requested.text
    return_id = requested.json()["id"]
    assert requested.json()["refund"] == {"amount": 1500, "currency": "USD"}  # at fault: +shipping
    for who, step, body in [
        (m.seller, "approve", None),
        (m.buyer, "ship-back", {"carrier": "sandbox", "tracking_number": "SBX00000002-SILENT"}),
        (m.seller, "receive", None),
    ]:
        response = await return_step(client, who=who, return_id=return_id, step=step, body=body)
        assert response.status_code == 200, response.text

    assert response.json()["status"] == "received"
    # The whole order came back: the platform returns its 150, the seller the other 1350.
    assert await _order_state(client, m, order) == ("refunded", 1500)
    assert await balance(client, seller=m.seller) == amounts(available=0)
    assert await platform_revenue(session) == 0
    assert ("refund", 1500, True) in await provider_book(session)
    assert _subjects(response.json()["timeline"]) == [
        ("return", "request", "requested"),
        ("return", "approve", "approved"),
        ("return", "ship_back", "shipped_back"),
        ("return", "receive", "received"),
    ]
    await reconcile_ok(client, admin=m.admin)


async def test_a_return_after_a_payout_leaves_a_debt_that_the_next_sale_pays_off(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m, price=1000, quantity=2, shipping=500)  # 2500
    assert await balance(client, seller=m.seller) == amounts(available=2250)
    assert (await post_payout(client, seller=m.seller, amount=2250)).status_code == 201
    await sweep(database, settings)

    requested = await post_return(
        client,
        who=m.buyer,
        order=order,
        reason="no_longer_needed",
        items=[{"line_id": order["lines"][0]["id"], "quantity": 1}],
    )
    assert requested.json()["refund"]["amount"] == 1000  # buyer's choice: no shipping back
    return_id = requested.json()["id"]
    await return_step(client, who=m.seller, return_id=return_id, step="approve")
    await return_step(
        client,
        who=m.buyer,
        return_id=return_id,
        step="ship-back",
        body={"carrier": "sandbox", "tracking_number": "SBX00000002-SILENT"},
    )
    received = await return_step(client, who=m.seller, return_id=return_id, step="receive")
    assert received.status_code == 200, received.text

    # 1000 of 2500 back: the platform returns 100 of its 250, the seller owes 900.
    assert await _order_state(client, m, order) == ("partially_refunded", 1000)
    assert await balance(client, seller=m.seller) == amounts(debt=900)
    assert await platform_revenue(session) == 150
    refused = await post_payout(client, seller=m.seller, amount=1)
    assert refused.status_code == 409
    await reconcile_ok(client, admin=m.admin)

    await completed_order(client, market=m)  # the next sale: 1350 net, 900 of it pays the debt
    assert await balance(client, seller=m.seller) == amounts(available=450)
    await reconcile_ok(client, admin=m.admin)


async def test_return_rejected_then_dispute_then_admin_partial_refund(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    requested = await post_return(client, who=m.buyer, order=order, reason="not_as_described")
    rejected = await return_step(
        client,
        who=m.seller,
        return_id=requested.json()["id"],
        step="reject",
        body={"reason": "It is as described"},
    )
    assert rejected.json()["status"] == "rejected"

    dispute_id = await _dispute_id(
        await post_dispute(
            client, who=m.buyer, order_id=order["id"], outcome="partial_refund", amount=600
        )
    )
    # The released proceeds are frozen while the dispute is open.
    assert await balance(client, seller=m.seller) == amounts(reserved=NET)
    assert (await post_payout(client, seller=m.seller, amount=1)).status_code == 409

    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=dispute_id, outcome="partial_refund", amount=600
    )
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["refund"]["amount"]) == ("resolved", 600)

    # 600 of 1500: the platform returns 60 of its 150, the seller 540; the rest is released.
    assert await _order_state(client, m, order) == ("partially_refunded", 600)
    assert await balance(client, seller=m.seller) == amounts(available=NET - 540)
    assert await platform_revenue(session) == 90
    steps = _subjects(await order_events(client, who=m.buyer, order_id=order["id"]))
    assert ("dispute", "open", "open") in steps
    assert ("order", "open_dispute", "disputed") in steps
    assert ("order", "resolve_dispute", "partially_refunded") in steps
    assert ("dispute", "resolve", "resolved") in steps
    await reconcile_ok(client, admin=m.admin)


async def test_an_unanswered_dispute_resolves_for_the_buyer(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await shipped_order(client, market=m)
    # Not `not_received`: the factory's parcel is delivered, and such a claim goes to an admin.
    dispute_id = await _dispute_id(
        await post_dispute(client, who=m.buyer, order_id=order["id"], reason="not_as_described")
    )

    clock.advance(settings.dispute_response_time - timedelta(seconds=1))
    await sweep(database, settings)
    m = await relogin_market(client, market=m)
    assert (await get_dispute(client, who=m.buyer, dispute_id=dispute_id)).json()[
        "status"
    ] == "open"

    clock.advance(timedelta(seconds=2))
    done = await sweep(database, settings)

    assert done["resolve_unanswered_disputes"] == 1
    dispute = (await get_dispute(client, who=m.buyer, dispute_id=dispute_id)).json()
    assert (dispute["status"], dispute["outcome"], dispute["refund"]["amount"]) == (
        "resolved",
        "refund_buyer",
        1500,
    )
    assert dispute["timeline"][-1]["actor_role"] == "system"
    assert await _order_state(client, m, order) == ("refunded", 1500)
    # Refunded straight out of escrow: the seller never had it, the platform earned nothing.
    assert await balance(client, seller=m.seller) == amounts()
    assert await platform_revenue(session) == 0
    # The auto-complete sweep never touches a disputed (now refunded) order.
    clock.advance(settings.auto_complete_after)
    await sweep(database, settings)
    m = await relogin_market(client, market=m)
    assert (await _order_state(client, m, order))[0] == "refunded"
    await reconcile_ok(client, admin=m.admin)


async def test_a_dispute_released_to_the_seller_completes_the_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _listing, order = await paid_order(client, market=m)
    dispute_id = await _dispute_id(await post_dispute(client, who=m.buyer, order_id=order["id"]))
    answered = await post_dispute_message(
        client, who=m.seller, dispute_id=dispute_id, body="Shipped on time, see tracking."
    )
    assert answered.json()["status"] == "awaiting_buyer"
    escalated = await client.post(f"/v1/disputes/{dispute_id}/escalate", headers=m.buyer.headers)
    assert escalated.json()["status"] == "escalated", escalated.text
    assert await balance(client, seller=m.seller) == amounts()  # still in escrow

    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=dispute_id, outcome="release_to_seller"
    )

    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["refund"]["amount"] == 0
    completed = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (completed["status"], completed["refunded"]["amount"]) == ("completed", 0)
    assert completed["completed_at"] is not None
    assert await balance(client, seller=m.seller) == amounts(available=NET)
    assert await platform_revenue(session) == 150
    again = await post_resolve(client, admin=m.admin, dispute_id=dispute_id, outcome="refund_buyer")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    await reconcile_ok(client, admin=m.admin)


async def test_a_full_refund_of_a_completed_order_takes_back_exactly_what_the_seller_got(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    dispute_id = await _dispute_id(await post_dispute(client, who=m.buyer, order_id=order["id"]))

    resolved = await post_resolve(
        client, admin=m.admin, dispute_id=dispute_id, outcome="refund_buyer"
    )

    assert resolved.json()["refund"]["amount"] == 1500
    assert await _order_state(client, m, order) == ("refunded", 1500)
    assert await balance(client, seller=m.seller) == amounts()
    assert await platform_revenue(session) == 0
    await reconcile_ok(client, admin=m.admin)
