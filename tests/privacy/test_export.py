"""GET /v1/me/export: every table's rows of the caller (and only theirs) as JSON, without
password hashes, key hashes, webhook secrets or the raw payout account; reviews about the
caller only once published; closed to API keys and anonymous callers."""

import hashlib
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from tests.factories.accounts import DEFAULT_PASSWORD, admin_user, register_and_login
from tests.factories.api import assert_problem, json_ok, parse_time
from tests.factories.api_keys import ALL_SCOPES, NOT_FOR_KEYS, bearer, create_key
from tests.factories.audit import audit_log
from tests.factories.catalog import my_listing_ids
from tests.factories.disputes import (
    EVIDENCE_PNG,
    completed_order,
    get_dispute,
    post_dispute,
    post_dispute_message,
    post_return,
    shipped_order,
    upload_evidence,
)
from tests.factories.mail import mailed_token
from tests.factories.notifications import inbox
from tests.factories.orders import market
from tests.factories.privacy import (
    EXPORT,
    HOOK_URL,
    MY_UNANSWERED_REVIEW,
    TABLES,
    UNPUBLISHED_REVIEW_OF_ME,
    check_export,
    export,
    ids,
    trader,
)
from tests.factories.sellers import GOOD_IBAN, approved_seller, my_profile


async def test_the_export_holds_exactly_the_callers_rows_of_every_table(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    t = await trader(client, session)

    body = await export(client, who=t.me)

    data = body["data"]
    (user,) = data["users"]
    assert user["id"] == t.me.user_id
    assert data["refresh_tokens"]
    assert {token["user_id"] for token in data["refresh_tokens"]} == {t.me.user_id}
    assert {s["id"] for s in data["auth_sessions"]} == {
        token["family_id"] for token in data["refresh_tokens"]
    }
    assert {s["user_id"] for s in data["auth_sessions"]} == {t.me.user_id}
    assert ids(body, table="api_keys") == {t.api_key["id"]}
    assert ids(body, table="sellers") == {t.seller_id}
    my_listings = set(await my_listing_ids(client, seller=t.me))
    assert t.listing["id"] in my_listings
    assert ids(body, table="listings") == my_listings
    assert ids(body, table="listing_reports") == {t.report_id}
    assert [(c["buyer_id"], c["listing_id"], c["quantity"]) for c in data["cart_items"]] == [
        (t.me.user_id, t.cart_listing_id, 2)
    ]
    assert ids(body, table="checkouts") == {
        t.bought["checkout_id"],
        t.reviewed_by_shop["checkout_id"],
    }
    assert ids(body, table="orders") == {t.bought["id"], t.reviewed_by_shop["id"], t.sold["id"]}
    assert ids(body, table="payouts") == {t.payout_id}
    # Written by the caller (published or not), and published ones about the caller.
    assert ids(body, table="reviews") == {
        t.my_review_id,
        t.my_review_of_buyer_id,
        t.review_of_me_id,
    }
    assert ids(body, table="conversations") == {t.conversation_id}
    assert ids(body, table="conversation_messages") == {t.my_message_id}
    notifications = {n["id"] for n in await inbox(client, who=t.me)}
    assert notifications
    assert ids(body, table="notifications") == notifications
    assert ids(body, table="webhook_endpoints") == {t.endpoint["id"]}
    assert ids(body, table="shipping_profiles") == {t.shipping_profile["id"]}
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

    verify_token = await mailed_token(session, to=t.me.email, template="verify_email")

    response = await client.get(EXPORT, headers=t.me.headers)

    body = check_export(response, who=t.me)  # every row: exactly its columns, less the hidden
    data = body["data"]
    for secret in (
        DEFAULT_PASSWORD,
        password_hash,
        t.api_key["key"],
        hashlib.sha256(t.api_key["key"].encode()).hexdigest(),
        t.endpoint["secret"],
        GOOD_IBAN,
        verify_token,
        hashlib.sha256(verify_token.encode()).hexdigest(),
    ):
        assert secret not in response.text
    # The mail the trader was sent (the address's link, the shop's notices), bodies aside.
    assert data["mail_messages"]
    assert {(m["user_id"], m["to_address"]) for m in data["mail_messages"]} == {
        (t.me.user_id, t.me.email)
    }
    assert {m["template"] for m in data["mail_messages"]} == {"verify_email", "notification"}
    (user,) = data["users"]
    assert (user["email"], user["display_name"], user["is_admin"]) == (t.me.email, "Seller", False)
    assert parse_time(user["created_at"])
    (shop,) = data["sellers"]
    profile = await my_profile(client, who=t.me)
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

    check_export(mine, who=t.me)
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
    assert t.unpublished_review_of_me_id not in ids(mine.json(), table="reviews")
    assert UNPUBLISHED_REVIEW_OF_ME not in mine.text
    # ...but to its author; the trader's unanswered review of the shop the other way round.
    body = check_export(theirs, who=shop)
    assert ids(body, table="reviews") == {t.unpublished_review_of_me_id}
    assert MY_UNANSWERED_REVIEW not in theirs.text
    assert ids(body, table="orders") == {t.bought["id"], t.reviewed_by_shop["id"], o.order_id}
    assert ids(body, table="conversations") == {t.conversation_id, o.conversation_id}
    assert ids(body, table="conversation_messages") == {t.their_message_id}
    assert ids(body, table="notifications") == {n["id"] for n in await inbox(client, who=shop)}
    for table in ("cart_items", "checkouts", "listing_reports", "payouts", "webhook_endpoints"):
        assert body["data"][table] == [], table
    assert t.me.email not in theirs.text


async def test_each_party_exports_the_return_and_dispute_but_only_its_own_messages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    returned = await completed_order(client, market=m)
    the_return = json_ok(await post_return(client, who=m.buyer, order=returned), 201)
    disputed = await shipped_order(client, market=m)
    dispute = json_ok(await post_dispute(client, who=m.buyer, order_id=disputed["id"]), 201)
    evidence = json_ok(
        await upload_evidence(
            client, who=m.buyer, dispute_id=dispute["id"], name="photo.png", data=EVIDENCE_PNG
        ),
        201,
    )
    cited = await post_dispute_message(
        client,
        who=m.buyer,
        dispute_id=dispute["id"],
        body="See the photo",
        evidence_ids=[evidence["id"]],
    )
    json_ok(cited, 201)
    json_ok(
        await post_dispute_message(
            client, who=m.seller, dispute_id=dispute["id"], body="It left intact"
        ),
        201,
    )
    messages = json_ok(await get_dispute(client, who=m.admin, dispute_id=dispute["id"]))["messages"]
    message_of = {message["author_id"]: message["id"] for message in messages}

    by_buyer = await export(client, who=m.buyer)
    by_seller = await export(client, who=m.seller)

    for body in (by_buyer, by_seller):
        assert ids(body, table="orders") == {returned["id"], disputed["id"]}
        assert ids(body, table="returns") == {the_return["id"]}
        assert ids(body, table="disputes") == {dispute["id"]}
    assert ids(by_buyer, table="dispute_messages") == {message_of[m.buyer.user_id]}
    assert ids(by_seller, table="dispute_messages") == {message_of[m.seller.user_id]}
    (uploaded,) = by_buyer["data"]["dispute_evidence"]
    assert (uploaded["id"], uploaded["uploader_id"], uploaded["size_bytes"]) == (
        evidence["id"],
        m.buyer.user_id,
        len(EVIDENCE_PNG),
    )
    assert by_seller["data"]["dispute_evidence"] == []


async def test_an_admin_exports_the_decisions_they_made_and_no_one_elses(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)  # its admin approved its seller
    other_admin = await admin_user(client, session)
    await approved_seller(client, session, admin=other_admin)
    log = await audit_log(client, admin=m.admin)
    made = {e["id"]: e for e in log if e["actor_id"] == m.admin.user_id}
    assert any(e["target_id"] == m.seller_id for e in made.values())
    assert any(e["actor_id"] == other_admin.user_id for e in log)

    body = await export(client, who=m.admin)

    assert ids(body, table="audit_entries") == set(made)
    for row in body["data"]["audit_entries"]:
        fields = ("actor_id", "action", "target_type", "target_id", "reason", "details")
        assert {f: row[f] for f in fields} == {f: made[row["id"]][f] for f in fields}
    (user,) = body["data"]["users"]
    assert user["is_admin"] is True
    # Being the target of a decision is not being its actor.
    assert (await export(client, who=m.seller))["data"]["audit_entries"] == []


async def test_a_new_account_exports_itself_and_its_session_only(
    client: httpx.AsyncClient,
) -> None:
    who = await register_and_login(client, display_name="Ada")

    body = await export(client, who=who)

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
    # The link mailed to verify the address: the token's record (never the token), and the
    # mail (never its body).
    (link,) = data["account_tokens"]
    assert (link["user_id"], link["purpose"], link["email"], link["used_at"]) == (
        who.user_id,
        "verify_email",
        who.email,
        None,
    )
    (mail,) = data["mail_messages"]
    assert (mail["user_id"], mail["to_address"], mail["template"], mail["topic"]) == (
        who.user_id,
        who.email,
        "verify_email",
        None,
    )
    assert mail["subject"] == "Confirm your email address"
    for table in TABLES[3:-2]:
        assert data[table] == [], table


async def test_the_export_is_closed_to_api_keys_and_anonymous_callers(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    created = await create_key(client, who=m.seller, scopes=ALL_SCOPES)

    by_key = await client.get(EXPORT, headers=bearer(created["key"]))
    anonymous = await client.get(EXPORT)
    garbage = await client.get(EXPORT, headers=bearer("not-a-token"))

    assert assert_problem(by_key, 403, "insufficient_scope")["detail"] == NOT_FOR_KEYS
    assert_problem(anonymous, 401, "invalid_token")
    assert_problem(garbage, 401, "invalid_token")
    # The refusal comes from the key: its owner's own token may export.
    assert ids(await export(client, who=m.seller), table="api_keys") == {created["id"]}
