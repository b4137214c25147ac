"""Issue 15's screen walks: the buyer's, the seller's and the admin's screens, each rendered
from the API alone in one request or a named, bounded few (`Screen.budget`), with every field
the screen shows present (`require`). A walk goes through the product as its users do; the
steps between screens (buying, shipping, deciding) are the actions those screens offer."""

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, register_and_login
from tests.factories.api import Json, json_ok
from tests.factories.catalog import JPEG_BYTES, LISTINGS, listing_for_sale, report_listing
from tests.factories.conversations import start
from tests.factories.disputes import (
    EVIDENCE_PNG,
    post_dispute,
    post_resolve,
    post_return,
    upload_evidence,
)
from tests.factories.orders import Market, add_to_cart, checkout, confirm, market, pay, ship
from tests.factories.payments import post_payout
from tests.factories.reviews import write_review
from tests.factories.screens import Screen, require
from tests.factories.sellers import apply_ok

ACTIONABLE = ("allowed_actions", "actions")


async def _listing_with_image(client: httpx.AsyncClient, market: Market, word: str) -> Json:
    listing = await listing_for_sale(
        client,
        seller=market.seller,
        category_id=market.category_id,
        title=f"Camera {word}",
        price=12_000,
        shipping=700,
    )
    uploaded = await client.post(
        f"{LISTINGS}/{listing['id']}/images",
        files={"file": ("front.jpg", JPEG_BYTES, "image/jpeg")},
        data={"alt_text": "The camera from the front"},
        headers=market.seller.headers,
    )
    json_ok(uploaded, 201)
    return listing


def _names(resource: Json) -> list[str]:
    """The actions a screen shows, checked to be the same in both fields."""
    names = [action["name"] for action in resource["actions"]]
    assert names == resource["allowed_actions"], resource
    return names


async def _buy(client: httpx.AsyncClient, market: Market, listing: Json) -> Json:
    created = await checkout(
        client, who=market.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    (order,) = (await pay(client, who=market.buyer, checkout_id=created["id"]))["orders"]
    return order


async def test_the_buyers_screens(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    word = uuid.uuid4().hex[:8]
    listing = await _listing_with_image(client, m, word)
    buyer = m.buyer

    search = Screen(client, buyer, "search results", budget=1)
    results = await search.get(LISTINGS, q=word, facets="true")
    assert results["total"] == 1
    assert results["total_capped"] is False
    require(
        results,
        "items[*].title",
        "items[*].price.amount",
        "items[*].shipping_fee.amount",
        "items[*].seller.shop_name",
        "items[*].images[*].urls.thumbnail",
        "items[*].images[*].alt_text",
        "facets.categories[*].count",
        "facets.conditions[*].count",
        "facets.price_bands[*].count",
    )
    assert results["items"][0]["images"][0]["urls"]["thumbnail"].startswith("http")

    page = Screen(client, buyer, "listing page: the listing, its reviews, its shop", budget=3)
    shown = await page.get(f"{LISTINGS}/{listing['id']}")
    require(shown, "title", "description", "images[*].urls.medium", "seller.shop_name")
    assert shown["for_sale"] is True
    assert shown["status"] == "active"
    assert "allowed_actions" not in shown
    assert "low_stock_threshold" not in shown
    assert await page.get(f"{LISTINGS}/{listing['id']}/reviews") == {
        "items": [],
        "next_cursor": None,
    }
    shop = await page.get(f"/v1/sellers/{shown['seller']['id']}")
    require(shop, "shop_name", "rating", "active_listing_count", "status")
    assert shop["accepting_orders"] is True

    await add_to_cart(client, who=buyer, listing_id=listing["id"], quantity=1)
    cart = await Screen(client, buyer, "cart", budget=1).get("/v1/cart")
    require(
        cart,
        "groups[*].shop_id",
        "groups[*].shop_name",
        "groups[*].items_total",
        "groups[*].shipping_total",
        "groups[*].subtotal",
        "groups[*].lines[*].image_url",
        "groups[*].lines[*].line_total",
        "groups[*].lines[*].max_quantity",
        "total",
        "item_count",
    )
    assert cart["groups"][0]["lines"][0]["in_stock"] is True

    created = await checkout(client, who=buyer)
    pending = await Screen(client, buyer, "checkout", budget=1).get(
        f"/v1/checkouts/{created['id']}"
    )
    require(pending, "total", "expires_at", "orders[*].shop_name", "actions[name=pay].deadline")
    await pay(client, who=buyer, checkout_id=created["id"])
    (order,) = pending["orders"]
    await ship(client, who=m.seller, order_id=order["id"])

    tabs = Screen(client, buyer, "my orders: tab counts and the shipped tab", budget=2)
    counts = await tabs.get("/v1/orders/counts", role="buyer")
    require(counts, "counts[status=shipped].count")
    shipped = await tabs.get("/v1/orders", role="buyer", status="shipped")
    require(shipped, "items[*].shop_name", "items[*].lines[*].image_url", "items[*].total")

    detail = Screen(client, buyer, "order page: the order and its timeline", budget=2)
    shown_order = await detail.get(f"/v1/orders/{order['id']}")
    require(
        shown_order,
        "shop_name",
        "lines[*].title",
        "lines[*].image_url",
        "lines[*].line_total",
        "shipping_address.city",
        "tracking_number",
        "actions[name=confirm_receipt].deadline",
        "actions[name=open_dispute]",
        "actions[name=message]",
    )
    assert shown_order["commission"] is None  # the seller's figures are not the buyer's
    timeline = await detail.get(f"/v1/orders/{order['id']}/events")
    require({"steps": timeline}, "steps[*].action", "steps[*].actor_role", "steps[*].created_at")
    assert {(e["action"], e["actor_role"]) for e in timeline} >= {
        ("pay", "buyer"),
        ("ship", "seller"),
    }

    await confirm(client, who=buyer, order_id=order["id"])
    completed = await Screen(client, buyer, "completed order", budget=1).get(
        f"/v1/orders/{order['id']}"
    )
    for action in ("review", "request_return", "open_dispute"):
        require(completed, f"actions[name={action}].deadline")
    _names(completed)

    await write_review(client, who=buyer, order_id=order["id"], rating=5)
    await write_review(client, who=m.seller, order_id=order["id"], rating=5)  # both: published
    reviews = await Screen(client, buyer, "the listing's reviews", budget=1).get(
        f"{LISTINGS}/{listing['id']}/reviews"
    )
    require(reviews, "items[*].rating", "items[*].author_display_name", "items[*].items[*].title")
    json_ok(await post_return(client, who=buyer, order=completed), 201)
    returns = Screen(client, buyer, "my returns: the list and one return", budget=2)
    listed = await returns.get("/v1/returns", role="buyer")
    require(listed, "items[*].status", "items[*].shop_name", "items[*].refund")
    the_return = await returns.get(f"/v1/returns/{listed['items'][0]['id']}")
    require(the_return, "items[*].title", "shop_name", "status", *ACTIONABLE)

    second = await _buy(client, m, await _listing_with_image(client, m, f"{word}b"))
    dispute = json_ok(await post_dispute(client, who=buyer, order_id=second["id"]), 201)
    uploaded = await upload_evidence(
        client, who=buyer, dispute_id=dispute["id"], name="box.png", data=EVIDENCE_PNG
    )
    json_ok(uploaded, 201)
    disputes = Screen(client, buyer, "my disputes: the list and one dispute", budget=2)
    listed_disputes = await disputes.get("/v1/disputes", role="buyer")
    require(listed_disputes, "items[*].status", "items[*].shop_name", "items[*].order_total")
    shown_dispute = await disputes.get(f"/v1/disputes/{dispute['id']}")
    require(shown_dispute, "evidence[*].url", "evidence[*].uploader_role", "shop_name")
    assert "add_evidence" in _names(shown_dispute)

    await start(client, who=buyer, listing_id=listing["id"], message="Does it come with a lens?")
    inbox = await Screen(client, buyer, "messages", budget=1).get("/v1/conversations")
    require(
        inbox,
        "items[*].counterpart.display_name",
        "items[*].counterpart.shop_name",
        "items[*].listing.title",
        "items[*].listing.thumbnail_url",
    )

    notices = await Screen(client, buyer, "notifications", budget=1).get("/v1/notifications")
    require(notices, "items[*].title", "items[*].body")
    require(
        notices, "items[type=order.shipped].resource_type", "items[type=order.shipped].resource_id"
    )


async def test_the_sellers_screens(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    seller = m.seller
    listing = await _listing_with_image(client, m, uuid.uuid4().hex[:8])
    order = await _buy(client, m, listing)

    dashboard = Screen(client, seller, "dashboard: shop, balance, order tabs, news", budget=4)
    require(await dashboard.get("/v1/sellers/me"), "shop_name", "status")
    require(await dashboard.get("/v1/sellers/me/balance"), "pending", "available", "currency")
    require(await dashboard.get("/v1/orders/counts", role="seller"), "counts[status=paid].count")
    news = await dashboard.get("/v1/notifications")
    require(news, "items[type=order.paid].body", "items[type=order.paid].resource_id")

    to_ship = await Screen(client, seller, "orders to ship", budget=1).get(
        "/v1/orders", role="seller", status="paid"
    )
    require(
        to_ship,
        "items[*].buyer_display_name",
        "items[*].shipping_address.name",
        "items[*].commission",
        "items[*].net_amount",
        "items[*].actions[name=ship].deadline",
    )
    await ship(client, who=seller, order_id=order["id"])
    await confirm(client, who=m.buyer, order_id=order["id"])

    balance = await Screen(client, seller, "balance card", budget=1).get("/v1/sellers/me/balance")
    assert balance["available"]["amount"] > 0
    require(balance, "actions[name=request_payout]")

    statement = await Screen(client, seller, "ledger", budget=1).get("/v1/sellers/me/ledger")
    require(
        statement,
        "items[*].entry_type",
        "items[*].description",
        "items[*].amount",
        "items[entry_type=sale].order_id",
        "items[entry_type=sale].commission",
    )

    json_ok(await post_payout(client, seller=seller, amount=balance["available"]["amount"]), 201)
    history = await Screen(client, seller, "payouts", budget=1).get("/v1/sellers/me/payouts")
    require(history, "items[*].amount", "items[*].status", "items[*].created_at")

    tab = await Screen(client, seller, "my listings tab", budget=1).get("/v1/sellers/me/listings")
    require(tab, "counts", "items[*].images[*].urls.thumbnail", "items[*].allowed_actions")


async def test_the_admins_screens(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    admin = m.admin
    applicant: LoggedIn = await register_and_login(client)
    application = await apply_ok(client, who=applicant)
    reported = await _listing_with_image(client, m, uuid.uuid4().hex[:8])
    await report_listing(client, who=m.buyer, listing_id=reported["id"])
    order = await _buy(client, m, await _listing_with_image(client, m, uuid.uuid4().hex[:8]))
    dispute = json_ok(await post_dispute(client, who=m.buyer, order_id=order["id"]), 201)
    escalated = await client.post(f"/v1/disputes/{dispute['id']}/escalate", headers=m.buyer.headers)
    json_ok(escalated)

    queues = Screen(client, admin, "queues: applications, reports, disputes", budget=3)
    applications = await queues.get("/v1/admin/sellers", status="pending_review")
    require(applications, "items[*].shop_name", "items[*].legal_name", "items[*].country")
    reports = await queues.get("/v1/admin/listings", reported="true")
    require(reports, "items[*].title", "items[*].report_count", "items[*].seller.shop_name")
    contested = await queues.get("/v1/admin/disputes", status="escalated")
    require(
        contested,
        "items[*].shop_name",
        "items[*].buyer_display_name",
        "items[*].order_total",
        "items[*].reason",
    )

    json_ok(
        await client.post(f"/v1/admin/sellers/{application['id']}/approve", headers=admin.headers)
    )
    json_ok(
        await client.post(
            f"/v1/admin/listings/{reported['id']}/reports/dismiss",
            json={"reason": "It is genuine"},
            headers=admin.headers,
        )
    )
    json_ok(
        await post_resolve(client, admin=admin, dispute_id=dispute["id"], outcome="refund_buyer")
    )

    after = Screen(client, admin, "queues after the decisions", budget=3)
    assert (await after.get("/v1/admin/sellers", status="pending_review"))["items"] == []
    assert (await after.get("/v1/admin/listings", reported="true"))["items"] == []
    assert (await after.get("/v1/admin/disputes", status="escalated"))["items"] == []
