"""Issue 15: the buyer's and the seller's order screens are built from `GET /v1/orders/{id}`
(and the same order inside checkouts and lists) alone — names, images, amounts, the ids of
what hangs off the order, and every action the caller may take with its deadline."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from tests.factories.accounts import LoggedIn, me
from tests.factories.api import Json, json_ok, usd
from tests.factories.catalog import LISTINGS, PNG_1X1, listing_for_sale, read_listing
from tests.factories.conversations import send, start
from tests.factories.disputes import completed_order, post_dispute, post_return, shipped_order
from tests.factories.orders import (
    ADDRESS,
    Market,
    checkout,
    confirm,
    get_order,
    market,
    paid_order,
    pay,
    post_cancel,
    relogin_market,
    ship,
)
from tests.factories.payments import (
    balance,
    platform_revenue,
    provider_book,
    reconcile_ok,
)
from tests.factories.reviews import write_review
from tests.factories.statements import statements_sent


def _actions(order: Json) -> dict[str, str | None]:
    assert [a["name"] for a in order["actions"]] == order["allowed_actions"]
    return {a["name"]: a["deadline"] for a in order["actions"]}


async def _with_image(client: httpx.AsyncClient, m: Market, listing_id: str) -> Json:
    uploaded = await client.post(
        f"{LISTINGS}/{listing_id}/images",
        files={"file": ("x.png", PNG_1X1, "image/png")},
        headers=m.seller.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    return await read_listing(client, who=m.seller, listing_id=listing_id)


# --- who, what, where -------------------------------------------------------------------------


async def test_the_order_names_its_shop_and_buyer_and_types_its_address(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing, order = await paid_order(client, market=m)

    for who in (m.buyer, m.seller):
        shown = await get_order(client, who=who, order_id=order["id"])
        assert shown["shop_id"] == shown["seller_id"] == m.seller_id
        assert shown["shop_name"] == listing["seller"]["shop_name"]
        assert shown["buyer_display_name"] == (await me(client, who=m.buyer))["display_name"]
        assert shown["shipping_address"] == {**ADDRESS, "line2": None, "region": None}

    spec = json_ok(await client.get("/openapi.json"))
    order_schema = spec["components"]["schemas"]["OrderRead"]["properties"]
    assert order_schema["shipping_address"] == {"$ref": "#/components/schemas/ShippingAddressRead"}
    assert order_schema["seller_id"]["deprecated"] is True
    assert set(spec["components"]["schemas"]["ShippingAddressRead"]["properties"]) == {
        "name",
        "line1",
        "line2",
        "city",
        "postal_code",
        "region",
        "country",
        "phone",
    }


async def test_each_line_shows_its_listing_image_and_its_total(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    pictured = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=1200, shipping=300
    )
    pictured = await _with_image(client, m, pictured["id"])
    plain = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=800, shipping=0
    )
    created = await checkout(
        client,
        who=m.buyer,
        items=[
            {"listing_id": pictured["id"], "quantity": 2},
            {"listing_id": plain["id"], "quantity": 1},
        ],
    )
    (order,) = created["orders"]

    shown = await get_order(client, who=m.buyer, order_id=order["id"])

    lines = {line["listing_id"]: line for line in shown["lines"]}
    # The same address the catalog gives the listing's first image.
    assert lines[pictured["id"]]["image_url"] == pictured["images"][0]["urls"]["thumbnail"]
    assert lines[plain["id"]]["image_url"] is None
    assert lines[pictured["id"]]["line_total"] == usd(2 * 1200 + 300)
    assert lines[plain["id"]]["line_total"] == usd(800)
    assert created["orders"][0]["lines"] == shown["lines"]


# --- money ------------------------------------------------------------------------------------


async def test_the_seller_sees_commission_and_net_as_the_ledger_takes_them_the_buyer_does_not(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1235, shipping=500)

    assert order["commission"] is None  # the buyer's view
    assert order["net_amount"] is None
    sellers_view = await get_order(client, who=m.seller, order_id=order["id"])
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["commission"] is None
    commission, net = sellers_view["commission"], sellers_view["net_amount"]
    assert commission == usd(174)  # 10 % of 1735 is 173.5, rounded half up
    assert net == usd(1735 - 174)

    await ship(client, who=m.seller, order_id=order["id"])
    await confirm(client, who=m.buyer, order_id=order["id"])
    # What the screen said is what the ledger took and gave.
    assert await platform_revenue(session) == commission["amount"]
    assert (await balance(client, seller=m.seller))["available"] == net["amount"]


async def test_cancelling_a_paid_order_shows_the_refund_the_buyer_got(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)

    response = await post_cancel(client, who=m.seller, order_id=order["id"], reason="broken")

    cancelled = json_ok(response)
    assert cancelled["refunded"] == usd(1500)
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["refunded"] == usd(1500)
    # What the order says was given back is what the provider paid back.
    assert ("refund", 1500, True) in await provider_book(session)
    assert cancelled["commission"] == usd(0)
    assert cancelled["net_amount"] == usd(0)
    await reconcile_ok(client, admin=m.admin)


# --- what hangs off the order, and what the caller may do -------------------------------------


async def test_actions_carry_their_deadlines_for_each_side(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, paid = await paid_order(client, market=m)
    sellers = await get_order(client, who=m.seller, order_id=paid["id"])
    assert _actions(sellers) == {"cancel": None, "ship": sellers["ship_by"]}

    shipped = await shipped_order(client, market=m)
    assert _actions(await get_order(client, who=m.buyer, order_id=shipped["id"])) == {
        "confirm_receipt": shipped["auto_complete_at"],
        "open_dispute": None,  # until completion a dispute may be opened any time
        "message": None,
    }

    completed = await confirm(client, who=m.buyer, order_id=shipped["id"])
    assert _actions(completed) == {
        "open_dispute": completed["dispute_deadline"],
        "request_return": completed["return_deadline"],
        "review": completed["review_deadline"],
        "message": None,
    }
    # The seller reviews the buyer until the same deadline; they answer once written to.
    assert _actions(await get_order(client, who=m.seller, order_id=shipped["id"])) == {
        "review": completed["review_deadline"]
    }


async def test_a_return_shows_its_id_and_ends_the_return_and_dispute_actions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    assert order["return_id"] is None

    requested = json_ok(await post_return(client, who=m.buyer, order=order), 201)

    for who in (m.buyer, m.seller):
        shown = await get_order(client, who=who, order_id=order["id"])
        assert shown["return_id"] == requested["id"]
        assert shown["dispute_id"] is None
    buyers = await get_order(client, who=m.buyer, order_id=order["id"])
    # One return per order; no dispute while the seller has the return to decide.
    assert "request_return" not in buyers["allowed_actions"]
    assert "open_dispute" not in buyers["allowed_actions"]
    assert "review" in buyers["allowed_actions"]


async def test_a_dispute_shows_its_id_and_is_not_offered_again(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    assert order["dispute_id"] is None
    opened = json_ok(await post_dispute(client, who=m.buyer, order_id=order["id"]), 201)

    for who in (m.buyer, m.seller, m.admin):
        assert (await get_order(client, who=who, order_id=order["id"]))["dispute_id"] == opened[
            "id"
        ]

    resolved = await client.post(
        f"/v1/admin/disputes/{opened['id']}/resolve",
        json={"outcome": "release_to_seller", "note": "decided"},
        headers={**m.admin.headers, "Idempotency-Key": "resolve-1"},
    )
    assert resolved.status_code == 200, resolved.text
    after = await get_order(client, who=m.buyer, order_id=order["id"])
    assert after["status"] == "completed"
    # The lifecycle would allow a dispute of a completed order; there is one already.
    assert "open_dispute" not in after["allowed_actions"]
    assert after["dispute_id"] == opened["id"]


async def test_the_review_action_ends_once_written_or_when_the_window_closes(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    reviewed = await completed_order(client, market=m)
    await write_review(client, who=m.buyer, order_id=reviewed["id"], rating=5)
    assert (
        "review"
        not in (await get_order(client, who=m.buyer, order_id=reviewed["id"]))["allowed_actions"]
    )
    # The other side's review is its own.
    assert (
        "review"
        in (await get_order(client, who=m.seller, order_id=reviewed["id"]))["allowed_actions"]
    )

    late = await completed_order(client, market=m)
    clock.advance(max(settings.review_window, settings.return_window) + timedelta(seconds=1))
    m = await relogin_market(client, market=m)
    actions = (await get_order(client, who=m.buyer, order_id=late["id"]))["allowed_actions"]
    assert "review" not in actions
    assert "request_return" not in actions


async def test_the_conversation_about_the_order_is_linked_and_the_seller_may_answer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    assert (
        "message"
        not in (await get_order(client, who=m.seller, order_id=order["id"]))["allowed_actions"]
    )

    conversation = await start(client, who=m.buyer, order_id=order["id"], message="When?")

    for who in (m.buyer, m.seller):
        shown = await get_order(client, who=who, order_id=order["id"])
        assert shown["conversation_id"] == conversation["id"]
        assert _actions(shown)["message"] is None
    await send(client, who=m.seller, conversation_id=conversation["id"], body="Tomorrow")
    # An admin is no party to it.
    assert (await get_order(client, who=m.admin, order_id=order["id"]))["conversation_id"] is None


# --- statements -------------------------------------------------------------------------------


ORDER_STATEMENTS = 6
"""GET /v1/orders/{id}: the caller, the order with its parties' names, its lines with their
images, and one query each of disputes, reviews and conversations."""


async def _page(client: httpx.AsyncClient, who: LoggedIn) -> Json:
    page: Json = json_ok(await client.get("/v1/orders", headers=who.headers))
    return page


async def test_the_order_screen_takes_a_few_statements_and_a_page_no_more_per_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    first = await completed_order(client, market=m)
    await get_order(client, who=m.buyer, order_id=first["id"])  # warm whatever is cached

    async with statements_sent(session) as one_order:
        await get_order(client, who=m.buyer, order_id=first["id"])
    assert len(one_order) <= ORDER_STATEMENTS, one_order

    async with statements_sent(session) as page_of_one:
        assert len((await _page(client, m.buyer))["items"]) == 1
    for _ in range(3):
        await completed_order(client, market=m)
    async with statements_sent(session) as page_of_four:
        assert len((await _page(client, m.buyer))["items"]) == 4
    assert len(page_of_four) == len(page_of_one), page_of_four


# --- the order inside a checkout --------------------------------------------------------------


async def test_a_checkout_offers_pay_until_it_expires_and_shows_its_orders_as_their_screen(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    assert created["actions"] == [{"name": "pay", "deadline": created["expires_at"]}]
    assert created["allowed_actions"] == ["pay"]
    paid = await pay(client, who=m.buyer, checkout_id=created["id"])
    assert paid["actions"] == []

    (order,) = paid["orders"]
    assert order == await get_order(client, who=m.buyer, order_id=order["id"])
    assert order["shop_name"] == listing["seller"]["shop_name"]
