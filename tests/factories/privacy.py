"""The personal-data export and account deletion, and a user with data in every domain."""

import dataclasses
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models_registry import metadata
from tests.factories.accounts import DEFAULT_PASSWORD, ME, LoggedIn, login
from tests.factories.api import Json, assert_problem, json_ok, parse_time
from tests.factories.api_keys import bearer, create_key
from tests.factories.audit import audit_log
from tests.factories.catalog import listing_for_sale, report_listing
from tests.factories.conversations import all_messages, send, start
from tests.factories.disputes import completed_order, post_dispute, shipped_order
from tests.factories.notifications import inbox
from tests.factories.orders import (
    ADDRESS,
    Market,
    add_to_cart,
    checkout,
    confirm,
    get_order,
    market,
    paid_order,
    pay,
    post_checkout,
    ship,
)
from tests.factories.payments import post_payout
from tests.factories.reviews import write_review
from tests.factories.sellers import approved_seller
from tests.factories.shipping import create_profile, rate
from tests.factories.webhooks import create_endpoint

EXPORT = "/v1/me/export"
HOOK_URL = "https://shop.example.com/hooks"

TABLES = (
    "users",
    "auth_sessions",
    "refresh_tokens",
    "api_keys",
    "totp_recovery_codes",
    "sellers",
    "listings",
    "shipping_profiles",
    "promotions",
    "promotion_usages",
    "promotion_redemptions",
    "listing_reports",
    "favourites",
    "saved_searches",
    "cart_items",
    "offers",
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
    "account_tokens",
    "mail_messages",
)
# Columns an export never shows, and what it shows instead.
HIDDEN_COLUMNS = {
    "users": {"password_hash", "deleted_at", "totp_secret", "totp_last_step"},
    "refresh_tokens": {"id"},
    "api_keys": {"key_hash"},
    "totp_recovery_codes": {"code_hash"},
    "webhook_endpoints": {"secret", "previous_secret"},
    "sellers": {"payout_account"},
    "account_tokens": {"token_hash"},
    # A queued mail's body may hold a single-use token.
    "mail_messages": {"text_body", "html_body", "claim_id", "dedup_key"},
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


# --- export -----------------------------------------------------------------------------------


def check_export(response: httpx.Response, *, who: LoggedIn) -> Json:
    """The body of an export answer, checked for its envelope: every table present as a list
    of rows that are the table's columns (less the hidden ones), with ids as strings."""
    body: Json = json_ok(response)
    assert set(body) == {"exported_at", "user_id", "data"}
    assert body["user_id"] == who.user_id
    parse_time(body["exported_at"])
    assert set(body["data"]) == set(TABLES)
    for table, rows in body["data"].items():
        assert isinstance(rows, list), table
        for row in rows:
            assert set(row) == row_columns(table), (table, row)
            if "id" in row:
                assert isinstance(row["id"], str), (table, row)
                uuid.UUID(row["id"])
    return body


async def export(client: httpx.AsyncClient, *, who: LoggedIn) -> Json:
    return check_export(await client.get(EXPORT, headers=who.headers), who=who)


def ids(body: Json, *, table: str) -> set[str]:
    return {row["id"] for row in body["data"][table]}


# --- account deletion -------------------------------------------------------------------------


async def delete_me(
    client: httpx.AsyncClient, *, who: LoggedIn, password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    return await client.request("DELETE", ME, json={"password": password}, headers=who.headers)


async def deleted(client: httpx.AsyncClient, *, who: LoggedIn) -> None:
    """Deletes the caller's account: 204, with nothing in the body."""
    response = await delete_me(client, who=who)
    assert response.status_code == 204, response.text
    assert response.content == b""


async def still_works(client: httpx.AsyncClient, *, who: LoggedIn) -> None:
    """The account was left alone: its token, its password and its refresh token work."""
    me = json_ok(await client.get(ME, headers=who.headers))
    assert me["id"] == who.user_id
    assert me["email"] == who.email
    assert (await login(client, email=who.email)).user_id == who.user_id


async def refused_as_in_use(client: httpx.AsyncClient, *, who: LoggedIn) -> None:
    assert_problem(await delete_me(client, who=who), 409, "account_in_use")
    await still_works(client, who=who)


async def signed_out_for_good(client: httpx.AsyncClient, *, who: LoggedIn) -> None:
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


async def deletion_entries(
    client: httpx.AsyncClient, *, admin: LoggedIn, user_id: str
) -> list[Json]:
    return [
        entry
        for entry in await audit_log(client, admin=admin)
        if entry["action"] == "account.deleted" and entry["actor_id"] == user_id
    ]


# --- orders in a given state ------------------------------------------------------------------


async def order_in_status(client: httpx.AsyncClient, *, market: Market, status: str) -> Json:
    """A fresh order of the market's buyer at its seller, brought to `status`."""
    if status == "pending_payment":
        listing = await listing_for_sale(
            client, seller=market.seller, category_id=market.category_id
        )
        created = await checkout(
            client, who=market.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
        )
        (order,) = created["orders"]
    elif status == "paid":
        _listing, order = await paid_order(client, market=market)
    else:
        order = await shipped_order(client, market=market)
        if status == "disputed":
            opened = await post_dispute(client, who=market.buyer, order_id=order["id"])
            assert opened.status_code == 201, opened.text
    found = await get_order(client, who=market.seller, order_id=order["id"])
    assert found["status"] == status
    return found


async def completed_order_to(client: httpx.AsyncClient, *, market: Market, address: Json) -> Json:
    """A fresh listing of the market's seller bought, paid, shipped and confirmed by its buyer,
    shipped to `address`."""
    listing = await listing_for_sale(client, seller=market.seller, category_id=market.category_id)
    items = [{"listing_id": listing["id"], "quantity": 1}]
    created = json_ok(
        await post_checkout(client, who=market.buyer, items=items, address=address), 201
    )
    (order,) = (await pay(client, who=market.buyer, checkout_id=created["id"]))["orders"]
    await ship(client, who=market.seller, order_id=order["id"])
    return await confirm(client, who=market.buyer, order_id=order["id"])


# --- a user with data in every domain ---------------------------------------------------------


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
    (`m.buyer`). The trader runs a shop with a live listing, an API key, a webhook endpoint
    and a shipping profile (as does the other shop); bought twice at the other shop
    (`bought`: the trader reviewed it, unanswered; `reviewed_by_shop`: the shop reviewed the
    trader, unanswered, so unpublished) and sold once to the other buyer (`sold`: both
    reviewed, so both published), then asked for a payout; has one item in the cart,
    reported a listing and talked with the other shop."""

    m: Market
    me: LoggedIn
    seller_id: str
    listing: Json
    api_key: Json
    endpoint: Json
    shipping_profile: Json
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
    me, seller_id = await approved_seller(client, session, admin=m.admin)
    listing = await listing_for_sale(client, seller=me, category_id=m.category_id)
    api_key = await create_key(client, who=me, scopes=["orders:read"])
    endpoint = await create_endpoint(client, who=me, url=HOOK_URL, event_types=["order.paid"])
    shipping_profile = await create_profile(
        client, seller=me, rates=[rate("DE", first=500, additional=200)]
    )
    await create_profile(client, seller=m.seller, rates=[rate("*", first=900, additional=0)])

    as_buyer = dataclasses.replace(m, buyer=me)
    bought = await completed_order(client, market=as_buyer)
    my_review = await write_review(
        client, who=me, order_id=bought["id"], rating=4, comment=MY_UNANSWERED_REVIEW
    )
    reviewed_by_shop = await completed_order(client, market=as_buyer)
    unpublished_review_of_me = await write_review(
        client,
        who=m.seller,
        order_id=reviewed_by_shop["id"],
        rating=2,
        comment=UNPUBLISHED_REVIEW_OF_ME,
    )

    as_seller = Market(m.admin, me, seller_id, m.category_id, m.buyer)
    sold = await completed_order(client, market=as_seller)
    review_of_me = await write_review(
        client, who=m.buyer, order_id=sold["id"], rating=5, comment="Quick shipping"
    )
    my_review_of_buyer = await write_review(
        client, who=me, order_id=sold["id"], rating=5, comment="Paid at once"
    )
    payout = json_ok(await post_payout(client, seller=me, amount=1000), 201)

    cart_listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    await add_to_cart(client, who=me, listing_id=cart_listing["id"], quantity=2)
    shop_listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    my_report = await report_listing(client, who=me, listing_id=shop_listing["id"])
    conversation = await start(client, who=me, listing_id=shop_listing["id"])
    await send(client, who=m.seller, conversation_id=conversation["id"], body="Yes, it is.")
    messages = await all_messages(client, who=me, conversation_id=conversation["id"])
    (my_message_id,) = [x["id"] for x in messages if x["sender_id"] == me.user_id]
    (their_message_id,) = [x["id"] for x in messages if x["sender_id"] != me.user_id]

    return Trader(
        m=m,
        me=me,
        seller_id=seller_id,
        listing=listing,
        api_key=api_key,
        endpoint=endpoint,
        shipping_profile=shipping_profile,
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
        others=await others_at_the_shop(client, market=m),
    )


async def others_at_the_shop(client: httpx.AsyncClient, *, market: Market) -> Others:
    """The other buyer's own business with the other shop."""
    _listing, order = await paid_order(client, market=market)
    cart_listing = await listing_for_sale(
        client, seller=market.seller, category_id=market.category_id
    )
    await add_to_cart(client, who=market.buyer, listing_id=cart_listing["id"], quantity=1)
    listing = await listing_for_sale(client, seller=market.seller, category_id=market.category_id)
    their_report = await report_listing(client, who=market.buyer, listing_id=listing["id"])
    conversation = await start(
        client, who=market.buyer, listing_id=listing["id"], message="Any scratches?"
    )
    (message,) = await all_messages(client, who=market.buyer, conversation_id=conversation["id"])
    notification_ids = [n["id"] for n in await inbox(client, who=market.buyer)]
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
