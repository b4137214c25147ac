"""GET /v1/me/export: every table's rows of the caller (and only theirs) as JSON, without
password hashes, key hashes, webhook secrets or the raw payout account; reviews about the
caller only once published; closed to API keys and anonymous callers."""

import hashlib
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from tests.auth.test_api_keys import ALL_SCOPES, NOT_FOR_KEYS, bearer, create_key, my_listing_ids
from tests.disputes.helpers import (
    completed_order,
    get_dispute,
    post_dispute,
    post_message,
    post_return,
    shipped_order,
)
from tests.disputes.test_disputes import PNG, upload
from tests.factories import DEFAULT_PASSWORD, assert_problem, json_ok, register_and_login
from tests.messaging.test_notifications import inbox
from tests.orders.helpers import GOOD_IBAN, admin, approved_seller, market, parse_time
from tests.privacy.helpers import (
    EXPORT,
    HOOK_URL,
    MY_UNANSWERED_REVIEW,
    TABLES,
    UNPUBLISHED_REVIEW_OF_ME,
    audit_log,
    check_export,
    export,
    ids,
    trader,
)
from tests.sellers.helpers import my_profile


async def test_the_export_holds_exactly_the_callers_rows_of_every_table(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    t = await trader(client, session)

    body = await export(client, t.me)

    data = body["data"]
    (user,) = data["users"]
    assert user["id"] == t.me.user_id
    assert data["refresh_tokens"]
    assert {token["user_id"] for token in data["refresh_tokens"]} == {t.me.user_id}
    assert {s["id"] for s in data["auth_sessions"]} == {
        token["family_id"] for token in data["refresh_tokens"]
    }
    assert {s["user_id"] for s in data["auth_sessions"]} == {t.me.user_id}
    assert ids(body, "api_keys") == {t.api_key["id"]}
    assert ids(body, "sellers") == {t.seller_id}
    my_listings = set(await my_listing_ids(client, t.me))
    assert t.listing["id"] in my_listings
    assert ids(body, "listings") == my_listings
    assert ids(body, "listing_reports") == {t.report_id}
    assert [(c["buyer_id"], c["listing_id"], c["quantity"]) for c in data["cart_items"]] == [
        (t.me.user_id, t.cart_listing_id, 2)
    ]
    assert ids(body, "checkouts") == {t.bought["checkout_id"], t.reviewed_by_shop["checkout_id"]}
    assert ids(body, "orders") == {t.bought["id"], t.reviewed_by_shop["id"], t.sold["id"]}
    assert ids(body, "payouts") == {t.payout_id}
    # Written by the caller (published or not), and published ones about the caller.
    assert ids(body, "reviews") == {t.my_review_id, t.my_review_of_buyer_id, t.review_of_me_id}
    assert ids(body, "conversations") == {t.conversation_id}
    assert ids(body, "conversation_messages") == {t.my_message_id}
    notifications = {n["id"] for n in await inbox(client, t.me)}
    assert notifications
    assert ids(body, "notifications") == notifications
    assert ids(body, "webhook_endpoints") == {t.endpoint["id"]}
    for table in ("returns", "disputes", "dispute_messages", "dispute_evidence", "audit_entries"):
        assert data[table] == [], table


async def test_rows_are_the_table_columns_and_no_secret_is_in_the_export(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    t = await trader(client, session)
    password_hash = await session.scalar(
        select(User.password_hash).where(User.id == uuid.UUID(t.me.user_id))
    )
    assert password_hash

    response = await client.get(EXPORT, headers=t.me.headers)

    body = check_export(response, t.me)  # every row: exactly its columns, less the hidden
    data = body["data"]
    for secret in (
        DEFAULT_PASSWORD,
        password_hash,
        t.api_key["key"],
        hashlib.sha256(t.api_key["key"].encode()).hexdigest(),
        t.endpoint["secret"],
        GOOD_IBAN,
    ):
        assert secret not in response.text
    (user,) = data["users"]
    assert (user["email"], user["display_name"], user["is_admin"]) == (t.me.email, "Seller", False)
    assert parse_time(user["created_at"])
    (shop,) = data["sellers"]
    profile = await my_profile(client, t.me)
    assert shop["payout_account_masked"] == profile["payout_account_masked"]
    assert (shop["user_id"], shop["shop_name"], shop["status"]) == (
        t.me.user_id,
        profile["shop_name"],
        "approved",
    )
    (key,) = data["api_keys"]
    assert (key["prefix"], key["scopes"], key["user_id"]) == (
        t.api_key["prefix"],
        ["orders:read"],
        t.me.user_id,
    )
    (endpoint,) = data["webhook_endpoints"]
    assert (endpoint["url"], endpoint["event_types"], endpoint["seller_id"]) == (
        HOOK_URL,
        ["order.paid"],
        t.seller_id,
    )
    (listing,) = [row for row in data["listings"] if row["id"] == t.listing["id"]]
    assert (listing["title"], listing["price_amount"], listing["seller_id"]) == (
        t.listing["title"],
        1000,
        t.seller_id,
    )
    (sold,) = [row for row in data["orders"] if row["id"] == t.sold["id"]]
    assert (sold["buyer_id"], sold["seller_id"], sold["status"], sold["total_amount"]) == (
        t.m.buyer.user_id,
        t.seller_id,
        "completed",
        1500,
    )
    assert sold["shipping_address"] == t.sold["shipping_address"]
    assert parse_time(sold["completed_at"]) == parse_time(t.sold["completed_at"])
    (payout,) = data["payouts"]
    assert (payout["amount"], payout["currency"]) == (1000, "USD")
    (mine,) = [row for row in data["reviews"] if row["id"] == t.my_review_id]
    assert (mine["author_id"], mine["rating"], mine["comment"], mine["published_at"]) == (
        t.me.user_id,
        4,
        MY_UNANSWERED_REVIEW,
        None,
    )


async def test_the_export_holds_nothing_of_other_users_and_keeps_reviews_double_blind(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    t = await trader(client, session)
    shop = t.m.seller

    mine = await client.get(EXPORT, headers=t.me.headers)
    theirs = await client.get(EXPORT, headers=shop.headers)

    check_export(mine, t.me)
    o = t.others
    for foreign in (
        o.order_id,
        o.checkout_id,
        o.conversation_id,
        o.message_id,
        o.report_id,
        o.cart_listing_id,
        *o.notification_ids,
    ):
        assert foreign not in mine.text
    # The shop's review of the trader is unanswered: not shown to the trader...
    assert t.unpublished_review_of_me_id not in ids(mine.json(), "reviews")
    assert UNPUBLISHED_REVIEW_OF_ME not in mine.text
    # ...but to its author; the trader's unanswered review of the shop the other way round.
    body = check_export(theirs, shop)
    assert ids(body, "reviews") == {t.unpublished_review_of_me_id}
    assert MY_UNANSWERED_REVIEW not in theirs.text
    assert ids(body, "orders") == {t.bought["id"], t.reviewed_by_shop["id"], o.order_id}
    assert ids(body, "conversations") == {t.conversation_id, o.conversation_id}
    assert ids(body, "conversation_messages") == {t.their_message_id}
    assert ids(body, "notifications") == {n["id"] for n in await inbox(client, shop)}
    for table in ("cart_items", "checkouts", "listing_reports", "payouts", "webhook_endpoints"):
        assert body["data"][table] == [], table
    assert t.me.email not in theirs.text


async def test_each_party_exports_the_return_and_dispute_but_only_its_own_messages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    returned = await completed_order(client, m)
    the_return = json_ok(await post_return(client, m.buyer, returned), 201)
    disputed = await shipped_order(client, m)
    dispute = json_ok(await post_dispute(client, m.buyer, disputed["id"]), 201)
    evidence = json_ok(await upload(client, m.buyer, dispute["id"], "photo.png", PNG), 201)
    cited = await post_message(client, m.buyer, dispute["id"], "See the photo", [evidence["id"]])
    json_ok(cited, 201)
    json_ok(await post_message(client, m.seller, dispute["id"], "It left intact"), 201)
    messages = json_ok(await get_dispute(client, m.admin, dispute["id"]))["messages"]
    message_of = {message["author_id"]: message["id"] for message in messages}

    by_buyer = await export(client, m.buyer)
    by_seller = await export(client, m.seller)

    for body in (by_buyer, by_seller):
        assert ids(body, "orders") == {returned["id"], disputed["id"]}
        assert ids(body, "returns") == {the_return["id"]}
        assert ids(body, "disputes") == {dispute["id"]}
    assert ids(by_buyer, "dispute_messages") == {message_of[m.buyer.user_id]}
    assert ids(by_seller, "dispute_messages") == {message_of[m.seller.user_id]}
    (uploaded,) = by_buyer["data"]["dispute_evidence"]
    assert (uploaded["id"], uploaded["uploader_id"], uploaded["size_bytes"]) == (
        evidence["id"],
        m.buyer.user_id,
        len(PNG),
    )
    assert by_seller["data"]["dispute_evidence"] == []


async def test_an_admin_exports_the_decisions_they_made_and_no_one_elses(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)  # its admin approved its seller
    other_admin = await admin(client, session)
    await approved_seller(client, session, other_admin)
    log = await audit_log(client, m.admin)
    made = {e["id"]: e for e in log if e["actor_id"] == m.admin.user_id}
    assert any(e["target_id"] == m.seller_id for e in made.values())
    assert any(e["actor_id"] == other_admin.user_id for e in log)

    body = await export(client, m.admin)

    assert ids(body, "audit_entries") == set(made)
    for row in body["data"]["audit_entries"]:
        fields = ("actor_id", "action", "target_type", "target_id", "reason", "details")
        assert {f: row[f] for f in fields} == {f: made[row["id"]][f] for f in fields}
    (user,) = body["data"]["users"]
    assert user["is_admin"] is True
    # Being the target of a decision is not being its actor.
    assert (await export(client, m.seller))["data"]["audit_entries"] == []


async def test_a_new_account_exports_itself_and_its_session_only(
    client: httpx.AsyncClient,
) -> None:
    who = await register_and_login(client, display_name="Ada")

    body = await export(client, who)

    data = body["data"]
    (user,) = data["users"]
    assert (user["id"], user["email"], user["display_name"], user["is_admin"]) == (
        who.user_id,
        who.email,
        "Ada",
        False,
    )
    (login_session,) = data["auth_sessions"]
    assert (login_session["user_id"], login_session["revoked_at"]) == (who.user_id, None)
    (token,) = data["refresh_tokens"]
    assert (token["user_id"], token["spent_at"], token["revoked_at"]) == (who.user_id, None, None)
    assert token["family_id"] == login_session["id"]
    assert parse_time(token["expires_at"]) > parse_time(token["created_at"])
    for table in TABLES[3:]:
        assert data[table] == [], table


async def test_the_export_is_closed_to_api_keys_and_anonymous_callers(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    created = await create_key(client, m.seller, ALL_SCOPES)

    by_key = await client.get(EXPORT, headers=bearer(created["key"]))
    anonymous = await client.get(EXPORT)
    garbage = await client.get(EXPORT, headers=bearer("not-a-token"))

    assert assert_problem(by_key, 403, "insufficient_scope")["detail"] == NOT_FOR_KEYS
    assert_problem(anonymous, 401, "invalid_token")
    assert_problem(garbage, 401, "invalid_token")
    # The refusal comes from the key: its owner's own token may export.
    assert ids(await export(client, m.seller), "api_keys") == {created["id"]}
