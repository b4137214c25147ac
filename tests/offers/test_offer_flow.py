"""Issue 19, offers: offer → counter → accept → checkout at the agreed price → pay; an
accepted offer not checked out in time returns its stock; offers below the floor are
declined at once; the steps show in the conversation, notify the other party and emit
events for the shop's webhooks."""

from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.api import assert_problem, json_ok, parse_time, usd
from tests.factories.catalog import get_listing
from tests.factories.notifications import inbox
from tests.factories.offers import (
    act,
    get_offer,
    make_offer,
    offer_listing,
    post_action,
    post_offer_checkout,
)
from tests.factories.orders import get_checkout, market, pay, relogin_market
from tests.factories.worker import sweep


async def _offer_events(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        text("SELECT type FROM outbox_events WHERE type LIKE 'offer.%' ORDER BY occurred_at, id")
    )
    return [row[0] for row in rows]


async def _stock(client: httpx.AsyncClient, listing_id: str) -> int:
    quantity: int = json_ok(await get_listing(client, listing_id=listing_id))["quantity"]
    return quantity


async def test_offer_counter_accept_checkout_at_the_agreed_price_and_pay(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, price=2000, quantity=3, shipping=500)
    clock.freeze()

    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500, quantity=2)
    assert offer["status"] == "pending_seller"
    assert offer["your_role"] == "buyer"
    assert offer["amount"] == usd(1500)
    assert offer["total"] == usd(3000)
    assert offer["quantity"] == 2
    assert offer["proposed_by"] == "buyer"
    assert offer["allowed_actions"] == ["withdraw"]
    assert parse_time(offer["expires_at"]) == clock.now() + settings.offer_ttl
    assert [(r["by"], r["amount"]["amount"], r["quantity"]) for r in offer["rounds"]] == [
        ("buyer", 1500, 2)
    ]
    seen = json_ok(await get_offer(client, who=m.seller, offer_id=offer["id"]))
    assert seen["your_role"] == "seller"
    assert seen["allowed_actions"] == ["accept", "decline", "counter"]

    # The buyer cannot answer their own offer; the seller cannot withdraw it.
    assert_problem(
        await post_action(client, who=m.buyer, offer_id=offer["id"], action="accept"),
        409,
        "invalid_transition",
    )
    assert_problem(
        await post_action(client, who=m.seller, offer_id=offer["id"], action="withdraw"),
        409,
        "invalid_transition",
    )

    clock.advance(timedelta(minutes=1))
    countered = await act(client, who=m.seller, offer_id=offer["id"], action="counter", amount=1800)
    assert countered["status"] == "pending_buyer"
    assert countered["amount"] == usd(1800)
    assert countered["proposed_by"] == "seller"
    assert countered["allowed_actions"] == []  # the seller waits for the buyer now
    assert parse_time(countered["expires_at"]) == clock.now() + settings.offer_ttl
    assert_problem(
        await post_action(client, who=m.seller, offer_id=offer["id"], action="accept"),
        409,
        "invalid_transition",
    )
    as_buyer = json_ok(await get_offer(client, who=m.buyer, offer_id=offer["id"]))
    assert as_buyer["allowed_actions"] == ["accept", "decline", "counter"]
    assert await _stock(client, listing["id"]) == 3  # nothing held before acceptance

    accepted = await act(client, who=m.buyer, offer_id=offer["id"], action="accept")
    assert accepted["status"] == "accepted"
    assert parse_time(accepted["accepted_at"]) == clock.now()
    assert parse_time(accepted["pay_by"]) == clock.now() + settings.offer_ttl
    assert accepted["allowed_actions"] == ["checkout"]
    assert [(r["by"], r["amount"]["amount"]) for r in accepted["rounds"]] == [
        ("buyer", 1500),
        ("seller", 1800),
    ]
    assert await _stock(client, listing["id"]) == 1  # two units held for the buyer

    # Only the buyer checks out.
    assert_problem(
        await post_offer_checkout(client, who=m.seller, offer_id=offer["id"]),
        409,
        "invalid_transition",
    )
    response = await post_offer_checkout(client, who=m.buyer, offer_id=offer["id"])
    created = json_ok(response, 201)
    assert created["status"] == "pending_payment"
    assert parse_time(created["expires_at"]) == clock.now() + settings.payment_expiry
    (order,) = created["orders"]
    (line,) = order["lines"]
    assert line["listing_id"] == listing["id"]
    assert line["unit_price"] == usd(1800)
    assert line["quantity"] == 2
    assert order["items_total"] == usd(3600)
    assert order["shipping_total"] == usd(500)
    assert created["total"] == usd(4100)
    assert await _stock(client, listing["id"]) == 1  # the offer's units, not two more

    purchased = json_ok(await get_offer(client, who=m.buyer, offer_id=offer["id"]))
    assert purchased["status"] == "purchased"
    assert purchased["checkout_id"] == created["id"]
    assert purchased["allowed_actions"] == []
    assert_problem(
        await post_offer_checkout(client, who=m.buyer, offer_id=offer["id"]),
        409,
        "invalid_transition",
    )

    paid = await pay(client, who=m.buyer, checkout_id=created["id"])
    assert paid["total"] == usd(4100)
    (paid_order,) = paid["orders"]
    assert paid_order["status"] == "paid"
    assert paid_order["lines"][0]["unit_price"] == usd(1800)
    assert await _stock(client, listing["id"]) == 1

    # Every step is in the buyer's conversation about the listing, as offer messages.
    conversation_id = purchased["conversation_id"]
    messages = json_ok(
        await client.get(f"/v1/conversations/{conversation_id}/messages", headers=m.seller.headers)
    )["items"]
    assert [
        (msg["kind"], msg["offer_id"], msg["sender_role"], msg["body"]) for msg in messages
    ] == [
        ("offer", offer["id"], "buyer", "Accepted 18.00 USD each for 2"),
        ("offer", offer["id"], "seller", "Countered with 18.00 USD each for 2"),
        ("offer", offer["id"], "buyer", "Offered 15.00 USD each for 2"),
    ]

    assert await _offer_events(session) == [
        "offer.created",
        "offer.countered",
        "offer.accepted",
        "offer.purchased",
    ]
    seller_titles = [n["title"] for n in await inbox(client, who=m.seller)]
    buyer_titles = [n["title"] for n in await inbox(client, who=m.buyer)]
    assert "New offer" in seller_titles
    assert "Offer accepted" in seller_titles
    assert "Counter-offer" not in seller_titles  # not told of their own step
    assert "Counter-offer" in buyer_titles
    assert "New offer" not in buyer_titles
    new_offer = next(n for n in await inbox(client, who=m.seller) if n["title"] == "New offer")
    assert new_offer["resource_type"] == "conversation"
    assert new_offer["resource_id"] == conversation_id


async def test_an_accepted_offer_not_checked_out_in_time_returns_its_stock(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    held = await offer_listing(client, market=m, quantity=3)
    asked = await offer_listing(client, market=m, quantity=3)
    accepted = await make_offer(client, who=m.buyer, listing_id=held["id"], amount=1500, quantity=2)
    await act(client, who=m.seller, offer_id=accepted["id"], action="accept")
    unanswered = await make_offer(client, who=m.buyer, listing_id=asked["id"], amount=1200)
    assert await _stock(client, held["id"]) == 1

    clock.advance(settings.offer_ttl - timedelta(minutes=1))
    assert (await sweep(database, settings))["expire_offers"] == 0
    clock.advance(timedelta(minutes=2))
    assert (await sweep(database, settings))["expire_offers"] == 2
    assert (await sweep(database, settings))["expire_offers"] == 0
    m = await relogin_market(client, market=m)

    assert await _stock(client, held["id"]) == 3  # the held units came back, once
    assert await _stock(client, asked["id"]) == 3
    for offer_id in (accepted["id"], unanswered["id"]):
        expired = json_ok(await get_offer(client, who=m.buyer, offer_id=offer_id))
        assert expired["status"] == "expired"
        assert expired["allowed_actions"] == []
    assert_problem(
        await post_offer_checkout(client, who=m.buyer, offer_id=accepted["id"]),
        409,
        "invalid_transition",
    )
    assert (await _offer_events(session))[-2:] == ["offer.expired", "offer.expired"]
    assert "Offer expired" in [n["title"] for n in await inbox(client, who=m.seller)]
    assert "Offer expired" in [n["title"] for n in await inbox(client, who=m.buyer)]


async def test_a_checked_out_offer_leaves_its_stock_to_the_order(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """Past `pay_by` the unpaid checkout expires and returns the stock; the offer, bought,
    does not return it a second time."""
    m = await market(client, session)
    listing = await offer_listing(client, market=m, quantity=3)
    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500, quantity=2)
    await act(client, who=m.seller, offer_id=offer["id"], action="accept")
    clock.advance(settings.offer_ttl - timedelta(minutes=5))
    m = await relogin_market(client, market=m)
    created = json_ok(await post_offer_checkout(client, who=m.buyer, offer_id=offer["id"]), 201)
    # Payable until the offer's deadline, not a full payment expiry later.
    assert (
        created["expires_at"]
        == json_ok(await get_offer(client, who=m.buyer, offer_id=offer["id"]))["pay_by"]
    )

    clock.advance(timedelta(minutes=10))
    done = await sweep(database, settings)
    assert done["expire_offers"] == 0
    assert done["expire_unpaid_checkouts"] == 1
    m = await relogin_market(client, market=m)
    assert await _stock(client, listing["id"]) == 3
    assert (await get_checkout(client, who=m.buyer, checkout_id=created["id"]))[
        "status"
    ] == "expired"
    still = json_ok(await get_offer(client, who=m.buyer, offer_id=offer["id"]))
    assert still["status"] == "purchased"


async def test_offers_below_the_floor_are_declined_at_once_without_telling_the_seller(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, price=2000, floor=1200)

    low = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1100)
    assert low["status"] == "declined"
    assert low["allowed_actions"] == []
    assert low["conversation_id"] is None
    assert await _offer_events(session) == ["offer.auto_declined"]
    assert await inbox(client, who=m.seller) == []
    assert await _stock(client, listing["id"]) == 3

    # Declined is closed: the buyer may offer again, at the floor this time.
    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1200)
    assert offer["status"] == "pending_seller"

    # A buyer's counter-offer below the floor is declined at once as well.
    await act(client, who=m.seller, offer_id=offer["id"], action="counter", amount=1900)
    before = len(await inbox(client, who=m.seller))
    # (Above 1100, declined already: see test_offer_limits.)
    lowered = await act(client, who=m.buyer, offer_id=offer["id"], action="counter", amount=1150)
    assert lowered["status"] == "declined"
    assert lowered["rounds"][-1]["amount"] == usd(1150)
    assert len(await inbox(client, who=m.seller)) == before
    assert (await _offer_events(session))[-1] == "offer.auto_declined"
