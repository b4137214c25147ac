"""Offers, the review's fixes: totals no payment may reach, listings no longer for sale or
now cheaper than the offer, probing for the floor, and account deletion closing the open
offers of the person and of their shop."""

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.money import MAX_AMOUNT
from app.offers.repository import OfferRepository
from tests.factories import catalog
from tests.factories.accounts import LoggedIn
from tests.factories.api import assert_problem, json_ok, usd
from tests.factories.catalog import get_listing, patch_listing
from tests.factories.offers import (
    OFFERS,
    act,
    get_offer,
    make_offer,
    offer_listing,
    post_action,
    post_offer,
    post_offer_checkout,
)
from tests.factories.orders import market, relogin_market
from tests.factories.privacy import deleted
from tests.factories.sellers import decide_ok

TOO_LOW_DETAIL = (
    "an offer at or below 11.50 USD, an amount already declined on this listing, "
    "won't be considered: offer more"
)


async def _status(client: httpx.AsyncClient, who: LoggedIn, offer_id: str) -> str:
    status: str = json_ok(await get_offer(client, who=who, offer_id=offer_id))["status"]
    return status


async def _stock(client: httpx.AsyncClient, listing_id: str) -> int:
    quantity: int = json_ok(await get_listing(client, listing_id=listing_id))["quantity"]
    return quantity


async def _offer_events(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        text("SELECT type FROM outbox_events WHERE type LIKE 'offer.%' ORDER BY occurred_at, id")
    )
    return [row[0] for row in rows]


async def test_an_offer_whose_total_no_payment_may_reach_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, price=MAX_AMOUNT, quantity=3)
    half = MAX_AMOUNT // 2

    body = assert_problem(
        await post_offer(
            client, who=m.buyer, listing_id=listing["id"], amount=half + 1, quantity=2
        ),
        422,
        "order_too_large",
    )
    assert body["detail"] == (
        "2 at 5000000000.01 USD each is more than one payment may be (10000000000.00 USD)"
    )
    # Exactly the maximum is fine.
    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=half, quantity=2)
    assert offer["total"] == usd(MAX_AMOUNT)

    # A counter-offer's total too.
    response = await client.post(
        f"{OFFERS}/{offer['id']}/counter",
        json={"amount": usd(half), "quantity": 3},
        headers=m.seller.headers,
    )
    assert_problem(response, 422, "order_too_large")
    unchanged = json_ok(await get_offer(client, who=m.seller, offer_id=offer["id"]))
    assert (unchanged["status"], unchanged["quantity"]) == ("pending_seller", 2)


async def test_an_offer_on_a_listing_no_longer_for_sale_is_neither_accepted_nor_checked_out(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    pending_on = await offer_listing(client, market=m, quantity=3)
    accepted_on = await offer_listing(client, market=m, quantity=3)
    pending = await make_offer(client, who=m.buyer, listing_id=pending_on["id"], amount=1500)
    accepted = await make_offer(client, who=m.buyer, listing_id=accepted_on["id"], amount=1500)
    await act(client, who=m.seller, offer_id=accepted["id"], action="accept")

    for listing in (pending_on, accepted_on):
        await catalog.act(
            client, who=m.admin, action="remove", listing_id=listing["id"], expected="removed"
        )
    response = await post_action(client, who=m.seller, offer_id=pending["id"], action="accept")
    assert_problem(response, 409, "listing_unavailable")
    assert await _status(client, m.seller, pending["id"]) == "pending_seller"
    response = await post_offer_checkout(client, who=m.buyer, offer_id=accepted["id"])
    assert_problem(response, 409, "listing_unavailable")
    # It stays accepted until `pay_by`, when the worker returns the stock.
    assert await _status(client, m.buyer, accepted["id"]) == "accepted"


async def test_an_offer_that_sold_the_listing_out_is_checked_out_until_the_shop_is_suspended(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    sold_out = await offer_listing(client, market=m, quantity=2)
    other = await offer_listing(client, market=m, quantity=2)
    first = await make_offer(
        client, who=m.buyer, listing_id=sold_out["id"], amount=1500, quantity=2
    )
    second = await make_offer(client, who=m.buyer, listing_id=other["id"], amount=1500)
    for offer in (first, second):
        await act(client, who=m.seller, offer_id=offer["id"], action="accept")
    own = await catalog.read_own_listing(client, seller=m.seller, listing_id=sold_out["id"])
    assert (own["status"], own["quantity"]) == ("sold_out", 0)

    json_ok(await post_offer_checkout(client, who=m.buyer, offer_id=first["id"]), 201)
    assert await _status(client, m.buyer, first["id"]) == "purchased"

    await decide_ok(
        client, admin=m.admin, seller_id=m.seller_id, action="suspend", reason="Chargebacks"
    )
    response = await post_offer_checkout(client, who=m.buyer, offer_id=second["id"])
    assert_problem(response, 409, "listing_unavailable")
    assert await _status(client, m.buyer, second["id"]) == "accepted"


async def test_an_offer_no_longer_below_the_price_is_not_accepted(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, price=2000, quantity=3)
    other = await offer_listing(client, market=m, price=2000, quantity=3)
    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500)
    countered = await make_offer(client, who=m.buyer, listing_id=other["id"], amount=1500)
    await act(client, who=m.seller, offer_id=countered["id"], action="counter", amount=1800)

    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(1500))
    await patch_listing(client, seller=m.seller, listing_id=other["id"], price=usd(1700))

    body = assert_problem(
        await post_action(client, who=m.seller, offer_id=offer["id"], action="accept"),
        409,
        "offer_above_price",
    )
    assert body["detail"] == (
        "the listing's price is now 15.00 USD, not above the offer's 15.00 USD: buy it instead"
    )
    assert_problem(
        await post_action(client, who=m.buyer, offer_id=countered["id"], action="accept"),
        409,
        "offer_above_price",
    )
    assert await _status(client, m.seller, offer["id"]) == "pending_seller"
    assert await _status(client, m.buyer, countered["id"]) == "pending_buyer"
    assert await _stock(client, listing["id"]) == 3
    assert await _stock(client, other["id"]) == 3
    # Still below it, it is accepted.
    await patch_listing(client, seller=m.seller, listing_id=listing["id"], price=usd(1501))
    accepted = await act(client, who=m.seller, offer_id=offer["id"], action="accept")
    assert accepted["status"] == "accepted"


@pytest.fixture
def many_offers(app: FastAPI) -> Iterator[None]:
    """The app letting a buyer make many proposals on one listing (for one test)."""
    usual: Settings = app.state.settings
    app.state.settings = usual.model_copy(update={"offers_per_listing": 50})
    yield
    app.state.settings = usual


@pytest.mark.usefixtures("many_offers")
async def test_the_floor_cannot_be_probed_at_or_below_a_declined_amount(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, price=2000, floor=1200)
    other = await offer_listing(client, market=m, price=2000, floor=1200)

    assert (await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1000))[
        "status"
    ] == "declined"
    for amount in (1000, 900):
        assert_problem(
            await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=amount),
            422,
            "offer_too_low",
        )
    assert (await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1150))[
        "status"
    ] == "declined"
    body = assert_problem(
        await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=1150),
        422,
        "offer_too_low",
    )
    assert body["detail"] == TOO_LOW_DETAIL
    # Another listing, and another buyer, are not concerned.
    assert (await make_offer(client, who=m.buyer, listing_id=other["id"], amount=1000))[
        "status"
    ] == "declined"

    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1200)
    assert offer["status"] == "pending_seller"
    await act(client, who=m.seller, offer_id=offer["id"], action="counter", amount=1900)
    body = assert_problem(
        await post_action(client, who=m.buyer, offer_id=offer["id"], action="counter", amount=1150),
        422,
        "offer_too_low",
    )
    assert body["detail"] == TOO_LOW_DETAIL
    assert await _status(client, m.buyer, offer["id"]) == "pending_buyer"
    # The shop's counter-offers are not concerned; a buyer's above the mark is weighed.
    lowered = await act(client, who=m.buyer, offer_id=offer["id"], action="counter", amount=1199)
    assert lowered["status"] == "declined"

    # What the shop declined counts as well.
    offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500)
    await act(client, who=m.seller, offer_id=offer["id"], action="decline")
    assert_problem(
        await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500),
        422,
        "offer_too_low",
    )
    higher = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1501)
    assert higher["status"] == "pending_seller"

    # An `offer_ttl` after a decline, it no longer counts.
    await act(client, who=m.buyer, offer_id=higher["id"], action="withdraw")
    clock.advance(settings.offer_ttl + timedelta(minutes=1))
    m = await relogin_market(client, market=m)
    assert (await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=1000))[
        "status"
    ] == "declined"


async def test_a_deleted_buyers_open_offers_expire_and_return_their_stock(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    pending_on = await offer_listing(client, market=m, quantity=3)
    accepted_on = await offer_listing(client, market=m, quantity=3)
    pending = await make_offer(client, who=m.buyer, listing_id=pending_on["id"], amount=1500)
    accepted = await make_offer(
        client, who=m.buyer, listing_id=accepted_on["id"], amount=1500, quantity=2
    )
    await act(client, who=m.seller, offer_id=accepted["id"], action="accept")
    assert await _stock(client, accepted_on["id"]) == 1
    events_before = len(await _offer_events(session))

    await deleted(client, who=m.buyer)

    for offer in (pending, accepted):
        seen = json_ok(await get_offer(client, who=m.seller, offer_id=offer["id"]))
        assert (seen["status"], seen["allowed_actions"]) == ("expired", [])
    assert_problem(
        await post_action(client, who=m.seller, offer_id=pending["id"], action="accept"),
        409,
        "invalid_transition",
    )
    assert await _stock(client, accepted_on["id"]) == 3
    assert await _stock(client, pending_on["id"]) == 3
    assert (await _offer_events(session))[events_before:] == ["offer.expired", "offer.expired"]


async def test_a_deleted_shops_open_offers_expire(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    pending_on = await offer_listing(client, market=m, quantity=3)
    accepted_on = await offer_listing(client, market=m, quantity=3)
    pending = await make_offer(client, who=m.buyer, listing_id=pending_on["id"], amount=1500)
    accepted = await make_offer(client, who=m.buyer, listing_id=accepted_on["id"], amount=1500)
    await act(client, who=m.seller, offer_id=accepted["id"], action="accept")

    await deleted(client, who=m.seller)

    for offer in (pending, accepted):
        seen = json_ok(await get_offer(client, who=m.buyer, offer_id=offer["id"]))
        assert (seen["status"], seen["allowed_actions"]) == ("expired", [])
    assert_problem(
        await post_offer_checkout(client, who=m.buyer, offer_id=accepted["id"]),
        409,
        "invalid_transition",
    )


async def test_the_expiry_sweep_names_the_open_states_as_literals(session: AsyncSession) -> None:
    """PostgreSQL uses the partial index ix_offers_open_expires for a generic plan only if
    the states are literals in the statement, not bound parameters."""
    statement = OfferRepository(session).due_for_expiry(clock.now())
    compiled = statement.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    assert "offers.status IN ('pending_seller', 'pending_buyer', 'accepted')" in str(compiled)
    assert list(compiled.params) == ["expires_at_1"]


async def test_a_buyer_may_make_only_a_few_proposals_on_one_listing_per_offer_ttl(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    listing = await offer_listing(client, market=m, price=2000)
    other = await offer_listing(client, market=m, price=2000)
    assert settings.offers_per_listing == 5
    for amount in (1000, 1100, 1200, 1300, 1400):
        offer = await make_offer(client, who=m.buyer, listing_id=listing["id"], amount=amount)
        withdrawn = await post_action(client, who=m.buyer, offer_id=offer["id"], action="withdraw")
        assert withdrawn.status_code == 200, withdrawn.text

    sixth = await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500)

    assert_problem(sixth, 409, "too_many_offers")
    # Another listing is another budget; and the budget comes back after the offer TTL.
    assert (
        await post_offer(client, who=m.buyer, listing_id=other["id"], amount=1500)
    ).status_code == 201
    clock.advance(settings.offer_ttl)
    m = await relogin_market(client, market=m)
    again = await post_offer(client, who=m.buyer, listing_id=listing["id"], amount=1500)
    assert again.status_code == 201, again.text
