"""HTTP helpers for the personal-data export and account deletion tests, built on the order,
dispute, review, messaging and API key helpers of the other test packages."""

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models_registry import metadata
from tests.auth.test_api_keys import bearer, create_key
from tests.disputes.helpers import completed_order, post_dispute, post_review, shipped_order
from tests.factories import DEFAULT_PASSWORD, LoggedIn, assert_problem, json_ok, login
from tests.messaging.test_conversations import all_messages, send, start
from tests.messaging.test_notifications import inbox
from tests.messaging.test_webhooks import create_endpoint
from tests.orders.helpers import (
    ADDRESS,
    Json,
    Market,
    approved_seller,
    checkout,
    confirm,
    get_order,
    live_listing,
    market,
    paid_order,
    pay,
    post_checkout,
    post_payout,
    ship,
)

ME = "/v1/me"
EXPORT = "/v1/me/export"
AUDIT_LOG = "/v1/admin/audit-log"
HOOK_URL = "https://shop.example.com/hooks"

TABLES = (
    "users",
    "auth_sessions",
    "refresh_tokens",
    "api_keys",
    "sellers",
    "listings",
    "listing_reports",
    "cart_items",
    "checkouts",
    "orders",
    "order_events",
    "payouts",
    "ledger_entries",
    "returns",
    "disputes",
    "dispute_messages",
    "dispute_evidence",
    "reviews",
    "conversations",
    "conversation_messages",
    "notifications",
    "webhook_endpoints",
    "audit_entries",
)
# Columns an export never shows, and what it shows instead.
HIDDEN_COLUMNS = {
    "users": {"password_hash", "deleted_at"},
    "refresh_tokens": {"id"},
    "api_keys": {"key_hash"},
    "webhook_endpoints": {"secret", "previous_secret"},
    "sellers": {"payout_account"},
}
ADDED_COLUMNS = {"sellers": {"payout_account_masked"}}

ANONYMISED_ADDRESS = {
    "name": "Deleted user",
    "line1": "deleted",
    "line2": None,
    "city": "deleted",
    "region": None,
    "postal_code": "deleted",
    "country": "DE",
    "phone": None,
}
MY_UNANSWERED_REVIEW = "Nice camera, slow post"
UNPUBLISHED_REVIEW_OF_ME = "Took ages to confirm receipt"
FULL_ADDRESS: Json = {**ADDRESS, "line2": "Flat 3", "region": "Hamburg"}


def row_columns(table: str) -> set[str]:
    """The keys of one exported row of `table`: its columns, less the hidden, plus the added."""
    columns = {column.name for column in metadata.tables[table].columns}
    return (columns - HIDDEN_COLUMNS.get(table, set())) | ADDED_COLUMNS.get(table, set())


def iso_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- export -----------------------------------------------------------------------------------


def check_export(response: httpx.Response, who: LoggedIn) -> Json:
    """The body of an export answer, checked for its envelope: every table present as a list
    of rows that are the table's columns (less the hidden ones), with ids as strings."""
    body: Json = json_ok(response)
    assert set(body) == {"exported_at", "user_id", "data"}
    assert body["user_id"] == who.user_id
    assert iso_time(body["exported_at"]).tzinfo is not None
    assert set(body["data"]) == set(TABLES)
    for table, rows in body["data"].items():
        assert isinstance(rows, list), table
        for row in rows:
            assert set(row) == row_columns(table), (table, row)
            if "id" in row:
                assert isinstance(row["id"], str), (table, row)
                uuid.UUID(row["id"])
    return body


async def export(client: httpx.AsyncClient, who: LoggedIn) -> Json:
    return check_export(await client.get(EXPORT, headers=who.headers), who)


def ids(body: Json, table: str) -> set[str]:
    return {row["id"] for row in body["data"][table]}


# --- account deletion -------------------------------------------------------------------------


async def delete_me(
    client: httpx.AsyncClient, who: LoggedIn, password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    return await client.request("DELETE", ME, json={"password": password}, headers=who.headers)


async def deleted(client: httpx.AsyncClient, who: LoggedIn) -> None:
    """Deletes the caller's account: 204, with nothing in the body."""
    response = await delete_me(client, who)
    assert response.status_code == 204, response.text
    assert response.content == b""


async def still_works(client: httpx.AsyncClient, who: LoggedIn) -> None:
    """The account was left alone: its token, its password and its refresh token work."""
    me = json_ok(await client.get(ME, headers=who.headers))
    assert me["id"] == who.user_id
    assert me["email"] == who.email
    assert (await login(client, who.email)).user_id == who.user_id


async def refused_as_in_use(client: httpx.AsyncClient, who: LoggedIn) -> None:
    assert_problem(await delete_me(client, who), 409, "account_in_use")
    await still_works(client, who)


async def signed_out_for_good(client: httpx.AsyncClient, who: LoggedIn) -> None:
    """A deleted account: its access token, password and refresh token are all refused."""
    assert_problem(await client.get(ME, headers=who.headers), 401, "invalid_token")
    assert_problem(await client.get(EXPORT, headers=who.headers), 401, "invalid_token")
    relogin = await client.post(
        "/v1/auth/token", data={"username": who.email, "password": DEFAULT_PASSWORD}
    )
    assert_problem(relogin, 401, "invalid_credentials")
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert refreshed.status_code == 401, refreshed.text
    assert refreshed.headers["content-type"].startswith("application/problem+json")


async def audit_log(client: httpx.AsyncClient, admin: LoggedIn) -> list[Json]:
    """Every entry of the admin audit log, all pages."""
    entries: list[Json] = []
    params: dict[str, str | int] = {"limit": 100}
    while True:
        page = json_ok(await client.get(AUDIT_LOG, params=params, headers=admin.headers))
        entries += page["items"]
        if page["next_cursor"] is None:
            return entries
        params["cursor"] = page["next_cursor"]


async def deletion_entries(client: httpx.AsyncClient, admin: LoggedIn, user_id: str) -> list[Json]:
    return [
        entry
        for entry in await audit_log(client, admin)
        if entry["action"] == "account.deleted" and entry["actor_id"] == user_id
    ]


async def storefront(client: httpx.AsyncClient, seller_id: str) -> httpx.Response:
    return await client.get(f"/v1/sellers/{seller_id}")


# --- orders in a given state ------------------------------------------------------------------


async def order_in_status(client: httpx.AsyncClient, m: Market, status: str) -> Json:
    """A fresh order of the market's buyer at its seller, brought to `status`."""
    if status == "pending_payment":
        listing = await live_listing(client, m.seller, m.category_id)
        created = await checkout(client, m.buyer, [{"listing_id": listing["id"], "quantity": 1}])
        (order,) = created["orders"]
    elif status == "paid":
        _listing, order = await paid_order(client, m)
    else:
        order = await shipped_order(client, m)
        if status == "disputed":
            opened = await post_dispute(client, m.buyer, order["id"])
            assert opened.status_code == 201, opened.text
    found = await get_order(client, m.seller, order["id"])
    assert found["status"] == status
    return found


async def completed_order_to(client: httpx.AsyncClient, m: Market, address: Json) -> Json:
    """A fresh listing of the market's seller bought, paid, shipped and confirmed by its buyer,
    shipped to `address`."""
    listing = await live_listing(client, m.seller, m.category_id)
    items = [{"listing_id": listing["id"], "quantity": 1}]
    created = json_ok(await post_checkout(client, m.buyer, items, address=address), 201)
    (order,) = (await pay(client, m.buyer, created["id"]))["orders"]
    await ship(client, m.seller, order["id"])
    return await confirm(client, m.buyer, order["id"])


# --- a user with data in every domain ---------------------------------------------------------


async def review(
    client: httpx.AsyncClient, who: LoggedIn, order_id: str, rating: int, comment: str
) -> Json:
    written: Json = json_ok(await post_review(client, who, order_id, rating, comment), 201)
    return written


async def report(client: httpx.AsyncClient, who: LoggedIn, listing_id: str) -> Json:
    response = await client.post(
        f"/v1/listings/{listing_id}/reports",
        json={"reason": "counterfeit", "details": "Looks fake"},
        headers=who.headers,
    )
    created: Json = json_ok(response, 201)
    return created


async def put_in_cart(
    client: httpx.AsyncClient, who: LoggedIn, listing_id: str, quantity: int
) -> None:
    response = await client.put(
        f"/v1/cart/items/{listing_id}", json={"quantity": quantity}, headers=who.headers
    )
    json_ok(response)


@dataclass(frozen=True)
class Others:
    """What another buyer did at the other shop: none of it may reach the trader's export."""

    order_id: str
    checkout_id: str
    conversation_id: str
    message_id: str
    report_id: str
    cart_listing_id: str
    notification_ids: list[str]


@dataclass(frozen=True)
class Trader:
    """A user who both buys and sells.

    `m` is the rest of the market: its admin, the other shop (`m.seller`) and another buyer
    (`m.buyer`). The trader runs a shop with a live listing, an API key and a webhook
    endpoint; bought twice at the other shop (`bought`: the trader reviewed it, unanswered;
    `reviewed_by_shop`: the shop reviewed the trader, unanswered, so unpublished) and sold
    once to the other buyer (`sold`: both reviewed, so both published), then asked for a
    payout; has one item in the cart, reported a listing and talked with the other shop."""

    m: Market
    me: LoggedIn
    seller_id: str
    listing: Json
    api_key: Json
    endpoint: Json
    bought: Json
    reviewed_by_shop: Json
    sold: Json
    my_review_id: str
    my_review_of_buyer_id: str
    review_of_me_id: str
    unpublished_review_of_me_id: str
    cart_listing_id: str
    report_id: str
    payout_id: str
    conversation_id: str
    my_message_id: str
    their_message_id: str
    others: Others


async def trader(client: httpx.AsyncClient, session: AsyncSession) -> Trader:
    m = await market(client, session)
    me, seller_id = await approved_seller(client, session, m.admin)
    listing = await live_listing(client, me, m.category_id)
    api_key = await create_key(client, me, ["orders:read"])
    endpoint = await create_endpoint(client, me, HOOK_URL, ["order.paid"])

    as_buyer = dataclasses.replace(m, buyer=me)
    bought = await completed_order(client, as_buyer)
    my_review = await review(client, me, bought["id"], 4, MY_UNANSWERED_REVIEW)
    reviewed_by_shop = await completed_order(client, as_buyer)
    unpublished_review_of_me = await review(
        client, m.seller, reviewed_by_shop["id"], 2, UNPUBLISHED_REVIEW_OF_ME
    )

    as_seller = Market(m.admin, me, seller_id, m.category_id, m.buyer)
    sold = await completed_order(client, as_seller)
    review_of_me = await review(client, m.buyer, sold["id"], 5, "Quick shipping")
    my_review_of_buyer = await review(client, me, sold["id"], 5, "Paid at once")
    payout = json_ok(await post_payout(client, me, 1000), 201)

    cart_listing = await live_listing(client, m.seller, m.category_id)
    await put_in_cart(client, me, cart_listing["id"], 2)
    shop_listing = await live_listing(client, m.seller, m.category_id)
    my_report = await report(client, me, shop_listing["id"])
    conversation = await start(client, me, listing_id=shop_listing["id"])
    await send(client, m.seller, conversation["id"], "Yes, it is.")
    messages = await all_messages(client, me, conversation["id"])
    (my_message_id,) = [x["id"] for x in messages if x["sender_id"] == me.user_id]
    (their_message_id,) = [x["id"] for x in messages if x["sender_id"] != me.user_id]

    return Trader(
        m=m,
        me=me,
        seller_id=seller_id,
        listing=listing,
        api_key=api_key,
        endpoint=endpoint,
        bought=bought,
        reviewed_by_shop=reviewed_by_shop,
        sold=sold,
        my_review_id=my_review["id"],
        my_review_of_buyer_id=my_review_of_buyer["id"],
        review_of_me_id=review_of_me["id"],
        unpublished_review_of_me_id=unpublished_review_of_me["id"],
        cart_listing_id=cart_listing["id"],
        report_id=my_report["id"],
        payout_id=payout["id"],
        conversation_id=conversation["id"],
        my_message_id=my_message_id,
        their_message_id=their_message_id,
        others=await others_at_the_shop(client, m),
    )


async def others_at_the_shop(client: httpx.AsyncClient, m: Market) -> Others:
    """The other buyer's own business with the other shop."""
    _listing, order = await paid_order(client, m)
    cart_listing = await live_listing(client, m.seller, m.category_id)
    await put_in_cart(client, m.buyer, cart_listing["id"], 1)
    listing = await live_listing(client, m.seller, m.category_id)
    their_report = await report(client, m.buyer, listing["id"])
    conversation = await start(client, m.buyer, listing_id=listing["id"], message="Any scratches?")
    (message,) = await all_messages(client, m.buyer, conversation["id"])
    notification_ids = [n["id"] for n in await inbox(client, m.buyer)]
    assert notification_ids
    return Others(
        order_id=order["id"],
        checkout_id=order["checkout_id"],
        conversation_id=conversation["id"],
        message_id=message["id"],
        report_id=their_report["id"],
        cart_listing_id=cart_listing["id"],
        notification_ids=notification_ids,
    )


def key_of(created: Json) -> dict[str, str]:
    """The Authorization header of an API key's creation answer."""
    return bearer(created["key"])
