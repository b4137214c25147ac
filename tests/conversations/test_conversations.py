"""Buyer-seller conversations over HTTP: starting one about a listing or an order, who may
read and write, newest-first pages, unread counts and read markers, contact details hidden
until payment, the length and rate limits, and the `message.created` event."""

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.core.outbox import OutboxEvent
from tests.factories.accounts import LoggedIn, buyer_user, create_user, login, register_and_login
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.api_keys import integration_of
from tests.factories.catalog import (
    PNG_1X1,
    draft_listing,
    listing_for_sale,
    nested_leaf_category,
)
from tests.factories.conversations import (
    CONVERSATIONS,
    all_messages,
    get_page,
    post_message,
    post_start,
    send,
    start,
)
from tests.factories.disputes import post_dispute
from tests.factories.orders import Market, market, paid_order, pay, unpaid_order
from tests.factories.sellers import approved_seller
from tests.factories.statements import statements_sent


async def get_conversation(client: httpx.AsyncClient, who: LoggedIn, conversation_id: str) -> Json:
    conversation: Json = json_ok(
        await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=who.headers)
    )
    return conversation


async def mine(client: httpx.AsyncClient, who: LoggedIn) -> list[Json]:
    page = await get_page(client, who=who, path=CONVERSATIONS, limit=100)
    assert page["next_cursor"] is None
    items: list[Json] = page["items"]
    return items


async def mark_read(client: httpx.AsyncClient, who: LoggedIn, conversation_id: str) -> Json:
    conversation: Json = json_ok(
        await client.post(f"{CONVERSATIONS}/{conversation_id}/read", headers=who.headers)
    )
    return conversation


async def unread(client: httpx.AsyncClient, who: LoggedIn, conversation_id: str) -> int:
    """The caller's unread count, checked to agree between the list and the single read."""
    single = (await get_conversation(client, who, conversation_id))["unread_count"]
    (listed,) = [c for c in await mine(client, who) if c["id"] == conversation_id]
    assert listed["unread_count"] == single
    count: int = single
    return count


async def message_events(session: AsyncSession, conversation_id: str) -> list[OutboxEvent]:
    rows = await session.scalars(
        select(OutboxEvent).where(OutboxEvent.type == "message.created").order_by(OutboxEvent.id)
    )
    return [e for e in rows if e.data["conversation_id"] == conversation_id]


# --- starting ---------------------------------------------------------------------------------


async def test_starting_about_a_listing_then_again_adds_to_the_same_conversation(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    first = await start(
        client, who=m.buyer, listing_id=listing["id"], message="Is the case included?"
    )
    assert first["listing_id"] == listing["id"]
    assert first["order_id"] is None
    assert first["buyer_id"] == m.buyer.user_id
    assert first["seller_id"] == m.seller_id
    assert first["role"] == "buyer"
    assert first["unread_count"] == 0
    assert first["last_message_preview"] == "Is the case included?"

    again = await start(
        client, who=m.buyer, listing_id=listing["id"], message="Also, any scratches?", expected=200
    )
    assert again["id"] == first["id"]
    assert again["last_message_preview"] == "Also, any scratches?"
    assert again["last_message_at"] >= first["last_message_at"]

    messages = await all_messages(client, who=m.buyer, conversation_id=first["id"])
    assert [msg["body"] for msg in messages] == ["Also, any scratches?", "Is the case included?"]
    assert {msg["sender_id"] for msg in messages} == {m.buyer.user_id}
    assert {msg["sender_role"] for msg in messages} == {"buyer"}
    assert {msg["conversation_id"] for msg in messages} == {first["id"]}

    # Another buyer about the same listing has a conversation of their own.
    other = await register_and_login(client)
    theirs = await start(client, who=other, listing_id=listing["id"])
    assert theirs["id"] != first["id"]

    (seen_by_seller,) = [c for c in await mine(client, m.seller) if c["id"] == first["id"]]
    assert seen_by_seller["role"] == "seller"
    assert seen_by_seller["unread_count"] == 2


async def test_starting_about_an_order_only_for_its_buyer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await unpaid_order(client, market=m)
    other_buyer = await register_and_login(client)

    for who in (m.seller, other_buyer, m.admin):
        assert_problem(await post_start(client, who=who, order_id=order["id"]), 404, "not_found")

    first = await start(client, who=m.buyer, order_id=order["id"], message="When will it ship?")
    assert first["order_id"] == order["id"]
    assert first["listing_id"] is None
    assert first["seller_id"] == m.seller_id
    assert first["role"] == "buyer"

    again = await start(client, who=m.buyer, order_id=order["id"], message="Hello?", expected=200)
    assert again["id"] == first["id"]
    assert len(await all_messages(client, who=m.seller, conversation_id=first["id"])) == 2


async def test_a_seller_cannot_message_their_own_listing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    assert_problem(
        await post_start(client, who=m.seller, listing_id=listing["id"]),
        409,
        "cannot_message_own_listing",
    )
    assert await mine(client, m.seller) == []


async def test_only_live_listings_and_known_orders_can_be_asked_about(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    draft = await draft_listing(client, seller=m.seller, category_id=m.category_id)

    assert_problem(await post_start(client, who=m.buyer, listing_id=draft["id"]), 404, "not_found")
    # Not even the owner's draft is a subject: the lookup is the public one.
    assert_problem(await post_start(client, who=m.seller, listing_id=draft["id"]), 404, "not_found")
    unknown = str(uuid.uuid4())
    assert_problem(await post_start(client, who=m.buyer, listing_id=unknown), 404, "not_found")
    assert_problem(await post_start(client, who=m.buyer, order_id=unknown), 404, "not_found")
    assert await mine(client, m.buyer) == []


async def test_the_spec_says_exactly_one_of_listing_and_order(client: httpx.AsyncClient) -> None:
    """Found by the fuzzer: both ids, or neither, were schema-valid and refused."""
    start = (await client.get("/openapi.json")).json()["components"]["schemas"]["ConversationStart"]

    assert sorted(branch["required"] for branch in start["oneOf"]) == [["listing_id"], ["order_id"]]
    for branch in start["oneOf"]:
        (name,) = branch["required"]
        assert branch["properties"] == {name: {"not": {"type": "null"}}}


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Hello"},
        {"listing_id": None, "order_id": None, "message": "Hello"},
        {"listing_id": str(uuid.uuid4()), "order_id": str(uuid.uuid4()), "message": "Hello"},
        {"listing_id": str(uuid.uuid4())},
        {"listing_id": str(uuid.uuid4()), "message": ""},
        {"listing_id": str(uuid.uuid4()), "message": " \n\t "},
        # Blank to every engine reading the spec's pattern (Python's and ECMA's \s differ).
        {"listing_id": str(uuid.uuid4()), "message": "\x1c\x85\ufeff\u3000"},
        {"listing_id": str(uuid.uuid4()), "message": 42},
        {"listing_id": "not-a-uuid", "message": "Hello"},
        {"listing_id": str(uuid.uuid4()), "message": "Hello", "role": "admin"},
        {"listing_id": str(uuid.uuid4()), "message": "NUL \x00 byte"},
    ],
)
async def test_a_bad_start_body_is_a_validation_error(
    client: httpx.AsyncClient, body: Json
) -> None:
    who = await register_and_login(client)
    problem = assert_problem(
        await client.post(CONVERSATIONS, json=body, headers=who.headers), 422, "validation_error"
    )
    assert problem["errors"]


async def test_malformed_bodies_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # In a conversation of the caller's own: for anyone else's the guard answers 404 before
    # any body is looked at.
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    conversation_id = (await start(client, who=m.buyer, listing_id=listing["id"]))["id"]
    headers = {**m.buyer.headers, "Content-Type": "application/json"}
    assert_problem(
        await client.post(CONVERSATIONS, content=b"{not json", headers=headers),
        400,
        "malformed_json",
    )
    assert_problem(
        await client.post(
            f"{CONVERSATIONS}/{conversation_id}/messages", json={"text": "hi"}, headers=headers
        ),
        422,
        "validation_error",
    )
    assert_problem(
        await client.post(
            f"{CONVERSATIONS}/{conversation_id}/messages", json={"body": "  "}, headers=headers
        ),
        422,
        "validation_error",
    )


@pytest.mark.postgres_only
async def test_concurrent_starts_make_one_conversation(
    committed_client: httpx.AsyncClient, committed_database: Database
) -> None:
    async with committed_database.session_scope() as session:
        admin_user = await create_user(session, is_admin=True)
    the_admin = await login(committed_client, email=admin_user.email)
    seller, _seller_id = await approved_seller(committed_client, session, admin=the_admin)
    listing = await listing_for_sale(
        committed_client,
        seller=seller,
        category_id=await nested_leaf_category(committed_client, admin=the_admin),
    )
    the_buyer = await buyer_user(committed_client)

    responses = await asyncio.gather(
        *(
            post_start(committed_client, who=the_buyer, listing_id=listing["id"], message=f"#{n}")
            for n in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201], [
        r.text for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    (conversation,) = await mine(committed_client, the_buyer)
    bodies = [
        m["body"]
        for m in await all_messages(
            committed_client, who=seller, conversation_id=conversation["id"]
        )
    ]
    assert sorted(bodies) == [f"#{n}" for n in range(5)]


# --- who may see it ---------------------------------------------------------------------------


async def _conversation_between(
    client: httpx.AsyncClient, session: AsyncSession
) -> tuple[Market, Json]:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    return m, await start(client, who=m.buyer, listing_id=listing["id"])


@pytest.mark.parametrize(
    ("caller", "visible"),
    [
        ("buyer", True),
        ("seller", True),
        ("other buyer", False),
        ("other seller", False),
        ("admin without dispute", False),
    ],
)
async def test_only_the_participants_see_a_conversation(
    client: httpx.AsyncClient, session: AsyncSession, caller: str, visible: bool
) -> None:
    m, conversation = await _conversation_between(client, session)
    if caller == "other seller":
        who, _seller_id = await approved_seller(client, session, admin=m.admin)
    else:
        who = {
            "buyer": m.buyer,
            "seller": m.seller,
            "other buyer": await register_and_login(client),
            "admin without dispute": m.admin,
        }[caller]
    path = f"{CONVERSATIONS}/{conversation['id']}"

    reads = [
        await client.get(path, headers=who.headers),
        await client.get(f"{path}/messages", headers=who.headers),
        await client.post(f"{path}/read", headers=who.headers),
    ]
    written = await post_message(
        client, who=who, conversation_id=conversation["id"], body="hi there"
    )
    listed = [c["id"] for c in await mine(client, who)]

    if visible:
        assert all(r.status_code == 200 for r in reads), [r.text for r in reads]
        assert written.status_code == 201, written.text
        assert listed == [conversation["id"]]
    else:
        for response in [*reads, written]:
            assert_problem(response, 404, "not_found")
        assert listed == []
        assert len(await all_messages(client, who=m.buyer, conversation_id=conversation["id"])) == 1


async def test_an_admin_reads_a_disputed_orders_conversation_but_does_not_write(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _listing, order = await paid_order(client, market=m)
    conversation = await start(client, who=m.buyer, order_id=order["id"], message="Arrived broken")
    path = f"{CONVERSATIONS}/{conversation['id']}"
    assert_problem(await client.get(path, headers=m.admin.headers), 404, "not_found")

    opened = await post_dispute(client, who=m.buyer, order_id=order["id"])
    assert opened.status_code == 201, opened.text

    seen = await get_conversation(client, m.admin, conversation["id"])
    assert seen["role"] == "admin"
    assert seen["unread_count"] == 0
    (message,) = await all_messages(client, who=m.admin, conversation_id=conversation["id"])
    assert message["body"] == "Arrived broken"
    assert_problem(
        await post_message(client, who=m.admin, conversation_id=conversation["id"], body="x"),
        403,
        "not_participant",
    )
    assert_problem(
        await client.post(f"{path}/read", headers=m.admin.headers), 403, "not_participant"
    )
    assert await mine(client, m.admin) == []
    assert len(await all_messages(client, who=m.buyer, conversation_id=conversation["id"])) == 1

    # A conversation about a listing never concerns a dispute.
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    about_listing = await start(client, who=m.buyer, listing_id=listing["id"])
    assert_problem(
        await client.get(f"{CONVERSATIONS}/{about_listing['id']}", headers=m.admin.headers),
        404,
        "not_found",
    )


async def test_unknown_conversations_are_not_found(client: httpx.AsyncClient) -> None:
    who = await register_and_login(client)
    path = f"{CONVERSATIONS}/{uuid.uuid4()}"
    assert_problem(await client.get(path, headers=who.headers), 404, "not_found")
    assert_problem(await client.get(f"{path}/messages", headers=who.headers), 404, "not_found")
    assert_problem(await client.post(f"{path}/read", headers=who.headers), 404, "not_found")
    assert_problem(
        await client.post(f"{path}/messages", json={"body": "hi"}, headers=who.headers),
        404,
        "not_found",
    )
    assert_problem(
        await client.get(f"{CONVERSATIONS}/not-a-uuid", headers=who.headers),
        422,
        "validation_error",
    )


async def test_conversations_need_a_signed_in_caller(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(CONVERSATIONS), 401, "invalid_token")
    assert_problem(
        await client.post(CONVERSATIONS, json={"listing_id": str(uuid.uuid4()), "message": "hi"}),
        401,
        "invalid_token",
    )


# --- through an API key -----------------------------------------------------------------------


async def test_a_messages_key_speaks_for_the_shop_never_for_its_owner_as_a_buyer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The market's seller also buys from another shop. Its `messages:write` key sees and
    answers the shop's conversations; those where the owner is the buyer do not exist for it,
    and starting one (a buyer's act) is refused."""
    m = await market(client, session)
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    theirs = await listing_for_sale(client, seller=other_seller, category_id=m.category_id)
    as_buyer = await start(client, who=m.seller, listing_id=theirs["id"], message="Any scratches?")
    await send(client, who=other_seller, conversation_id=as_buyer["id"], body="None at all")
    ours = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    as_seller = await start(client, who=m.buyer, listing_id=ours["id"])
    integration = await integration_of(client, owner=m.seller, scopes=["messages:write"])

    # The owner's JWT sees both sides, each with one unread message.
    assert [(c["id"], c["role"], c["unread_count"]) for c in await mine(client, m.seller)] == [
        (as_seller["id"], "seller", 1),
        (as_buyer["id"], "buyer", 1),
    ]

    # The key: the shop's side only, unread counts of the shop's side only.
    assert [(c["id"], c["role"], c["unread_count"]) for c in await mine(client, integration)] == [
        (as_seller["id"], "seller", 1)
    ]
    seen = await get_conversation(client, integration, as_seller["id"])
    assert (seen["role"], seen["unread_count"]) == ("seller", 1)
    reply = await send(
        client, who=integration, conversation_id=as_seller["id"], body="Yes, still here"
    )
    assert reply["sender_id"] == m.seller.user_id
    assert reply["sender_role"] == "seller"
    assert (await mark_read(client, integration, as_seller["id"]))["unread_count"] == 0
    assert [
        msg["body"]
        for msg in await all_messages(client, who=m.buyer, conversation_id=as_seller["id"])
    ] == [
        "Yes, still here",
        "Is it still available?",
    ]

    path = f"{CONVERSATIONS}/{as_buyer['id']}"
    for response in [
        await client.get(path, headers=integration.headers),
        await client.get(f"{path}/messages", headers=integration.headers),
        await client.post(f"{path}/read", headers=integration.headers),
        await post_message(
            client, who=integration, conversation_id=as_buyer["id"], body="sent by the key"
        ),
    ]:
        assert_problem(response, 404, "not_found")

    # Starting one, even about a listing the owner already asked about (which would add to
    # that conversation), is the buyer's act.
    for subject in (
        theirs,
        await listing_for_sale(client, seller=other_seller, category_id=m.category_id),
    ):
        refused = await post_start(client, who=integration, listing_id=subject["id"], message="Hi")
        assert assert_problem(refused, 403, "insufficient_scope")["detail"] == (
            "starting a conversation is a buyer's action, not a shop's"
        )

    # The buyer side is as the owner left it: nothing sent, nothing marked read.
    assert [
        msg["body"]
        for msg in await all_messages(client, who=m.seller, conversation_id=as_buyer["id"])
    ] == [
        "None at all",
        "Any scratches?",
    ]
    assert [(c["id"], c["unread_count"]) for c in await mine(client, m.seller)] == [
        (as_seller["id"], 0),
        (as_buyer["id"], 1),
    ]


# --- pages ------------------------------------------------------------------------------------


async def test_messages_come_newest_first_in_pages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, conversation = await _conversation_between(client, session)
    path = f"{CONVERSATIONS}/{conversation['id']}/messages"
    for n in range(1, 5):
        await send(
            client,
            who=m.seller if n % 2 else m.buyer,
            conversation_id=conversation["id"],
            body=f"message {n}",
        )

    bodies: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await get_page(client, who=m.seller, path=path, **params)
        assert len(page["items"]) <= 2
        bodies += [msg["body"] for msg in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = ["message 4", "message 3", "message 2", "message 1", "Is it still available?"]
    assert bodies == expected
    assert pages == 3

    first = await get_page(client, who=m.buyer, path=path, limit=2)
    # A message written after the first page does not shift the following pages.
    await send(client, who=m.buyer, conversation_id=conversation["id"], body="message 5")
    second = await get_page(client, who=m.buyer, path=path, limit=2, cursor=first["next_cursor"])
    assert [msg["body"] for msg in second["items"]] == ["message 2", "message 1"]

    assert_problem(
        await client.get(path, params={"cursor": "garbage"}, headers=m.buyer.headers),
        422,
        "invalid_cursor",
    )
    assert_problem(
        await client.get(path, params={"limit": 101}, headers=m.buyer.headers),
        422,
        "validation_error",
    )


async def test_my_conversations_by_last_activity_as_buyer_and_as_seller(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    # The market's seller also buys from another shop.
    other_seller, other_seller_id = await approved_seller(client, session, admin=m.admin)
    theirs = await listing_for_sale(client, seller=other_seller, category_id=m.category_id)
    as_buyer = await start(client, who=m.seller, listing_id=theirs["id"])
    listings = [
        await listing_for_sale(client, seller=m.seller, category_id=m.category_id) for _ in range(2)
    ]
    as_seller = [await start(client, who=m.buyer, listing_id=x["id"]) for x in listings]

    listed = await mine(client, m.seller)
    assert [c["id"] for c in listed] == [as_seller[1]["id"], as_seller[0]["id"], as_buyer["id"]]
    assert [c["role"] for c in listed] == ["seller", "seller", "buyer"]
    assert listed[2]["seller_id"] == other_seller_id
    assert listed[2]["buyer_id"] == m.seller.user_id

    # New activity moves a conversation to the top.
    await send(client, who=other_seller, conversation_id=as_buyer["id"], body="Yes, it is")
    listed = await mine(client, m.seller)
    assert listed[0]["id"] == as_buyer["id"]
    assert listed[0]["last_message_preview"] == "Yes, it is"
    assert listed[0]["unread_count"] == 1

    first = await get_page(client, who=m.seller, path=CONVERSATIONS, limit=2)
    assert len(first["items"]) == 2
    rest = await get_page(
        client, who=m.seller, path=CONVERSATIONS, limit=2, cursor=first["next_cursor"]
    )
    assert rest["next_cursor"] is None
    paged = [c["id"] for c in first["items"] + rest["items"]]
    assert paged == [c["id"] for c in listed]
    # A cursor of the messages' order is refused by the list's.
    messages = await get_page(
        client, who=m.seller, path=f"{CONVERSATIONS}/{as_buyer['id']}/messages", limit=1
    )
    assert_problem(
        await client.get(
            CONVERSATIONS, params={"cursor": messages["next_cursor"]}, headers=m.seller.headers
        ),
        422,
        "invalid_cursor",
    )


async def test_long_previews_are_shortened(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    text = "word " * 100
    conversation = await start(client, who=m.buyer, listing_id=listing["id"], message=text)
    preview = conversation["last_message_preview"]
    assert len(preview) == 120
    assert preview.endswith("…")
    assert text.startswith(preview[:-1])


# --- unread -----------------------------------------------------------------------------------


async def test_unread_counts_and_read_markers_for_both_sides(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, conversation = await _conversation_between(client, session)
    cid = conversation["id"]
    assert await unread(client, m.buyer, cid) == 0
    assert await unread(client, m.seller, cid) == 1

    await send(client, who=m.seller, conversation_id=cid, body="Yes")
    await send(client, who=m.seller, conversation_id=cid, body="Still here")
    assert await unread(client, m.buyer, cid) == 2
    assert await unread(client, m.seller, cid) == 0  # answering reads what came before

    # Reading the messages is not marking them read.
    await all_messages(client, who=m.buyer, conversation_id=cid)
    assert await unread(client, m.buyer, cid) == 2
    marked = await mark_read(client, m.buyer, cid)
    assert marked["unread_count"] == 0
    assert marked["role"] == "buyer"
    assert await unread(client, m.buyer, cid) == 0

    await send(client, who=m.buyer, conversation_id=cid, body="Great, I'll take it")
    await send(client, who=m.buyer, conversation_id=cid, body="Can you ship Monday?")
    assert await unread(client, m.seller, cid) == 2
    assert await unread(client, m.buyer, cid) == 0
    assert (await mark_read(client, m.seller, cid))["role"] == "seller"
    assert await unread(client, m.seller, cid) == 0
    # Marking read twice is harmless.
    assert (await mark_read(client, m.seller, cid))["unread_count"] == 0

    await send(client, who=m.seller, conversation_id=cid, body="Sure")
    assert await unread(client, m.buyer, cid) == 1
    assert await unread(client, m.seller, cid) == 0


# --- masking ----------------------------------------------------------------------------------

CONTACT = "Mail me at jo@example.com or call +49 30 1234567, see www.example.com"
HIDDEN = "Mail me at [hidden] or call [hidden], see [hidden]"


async def test_contact_details_are_hidden_in_listing_conversations(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    conversation = await start(client, who=m.buyer, listing_id=listing["id"], message=CONTACT)
    assert conversation["last_message_preview"] == HIDDEN
    reply = await send(
        client,
        who=m.seller,
        conversation_id=conversation["id"],
        body="Price is $1,250.00 until 2026-11-27",
    )
    assert reply["masked"] is False
    assert reply["body"] == "Price is $1,250.00 until 2026-11-27"
    masked = await send(
        client, who=m.seller, conversation_id=conversation["id"], body="text me: 555 123 4567"
    )
    assert masked["masked"] is True
    assert masked["body"] == "text me: [hidden]"

    newest, _reply, first = await all_messages(
        client, who=m.buyer, conversation_id=conversation["id"]
    )
    assert first["body"] == HIDDEN
    assert first["masked"] is True
    assert newest["id"] == masked["id"]
    # The original is never stored, so the event carries the masked text too.
    events = await message_events(session, conversation["id"])
    assert [e.data["body"] for e in events] == [HIDDEN, reply["body"], "text me: [hidden]"]


async def test_contact_details_are_hidden_until_the_order_is_paid(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await unpaid_order(client, market=m)
    conversation = await start(client, who=m.buyer, order_id=order["id"], message=CONTACT)
    before = await send(
        client, who=m.seller, conversation_id=conversation["id"], body="Call me: 555-123-4567"
    )
    assert before["masked"] is True
    assert before["body"] == "Call me: [hidden]"

    await pay(client, who=m.buyer, checkout_id=order["checkout_id"])
    after = await send(
        client, who=m.seller, conversation_id=conversation["id"], body="Call me: 555-123-4567"
    )
    assert after["masked"] is False
    assert after["body"] == "Call me: 555-123-4567"
    again = await start(client, who=m.buyer, order_id=order["id"], message=CONTACT, expected=200)
    assert again["last_message_preview"] == CONTACT

    bodies = [
        (msg["body"], msg["masked"])
        for msg in await all_messages(client, who=m.buyer, conversation_id=again["id"])
    ]
    assert bodies == [
        (CONTACT, False),
        ("Call me: 555-123-4567", False),
        ("Call me: [hidden]", True),
        (HIDDEN, True),
    ]


async def test_a_paid_orders_conversation_is_not_masked_from_the_start(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _listing, order = await paid_order(client, market=m)
    conversation = await start(client, who=m.buyer, order_id=order["id"], message=CONTACT)
    (message,) = await all_messages(client, who=m.seller, conversation_id=conversation["id"])
    assert (message["body"], message["masked"]) == (CONTACT, False)


# --- limits -----------------------------------------------------------------------------------


async def test_messages_have_a_length_limit(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m, conversation = await _conversation_between(client, session)
    limit = settings.message_max_length

    too_long = await post_message(
        client, who=m.buyer, conversation_id=conversation["id"], body="x" * (limit + 1)
    )
    problem = assert_problem(too_long, 422, "validation_error")
    assert problem["errors"] == [{"loc": ["body", "body"], "msg": f"at most {limit} characters"}]
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    problem = assert_problem(
        await post_start(client, who=m.buyer, listing_id=listing["id"], message="x" * (limit + 1)),
        422,
        "validation_error",
    )
    assert problem["errors"] == [{"loc": ["body", "message"], "msg": f"at most {limit} characters"}]

    exactly = await send(client, who=m.buyer, conversation_id=conversation["id"], body="x" * limit)
    assert len(exactly["body"]) == limit
    assert len(await all_messages(client, who=m.buyer, conversation_id=conversation["id"])) == 2
    assert len(await mine(client, m.buyer)) == 1


async def test_senders_are_rate_limited_across_conversations(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "message_rate_limit", 3)
    monkeypatch.setattr(settings, "message_rate_window", timedelta(seconds=60))
    m = await market(client, session)
    first, second = [
        await listing_for_sale(client, seller=m.seller, category_id=m.category_id) for _ in range(2)
    ]
    clock.freeze()

    one = await start(client, who=m.buyer, listing_id=first["id"])  # 1
    await send(client, who=m.buyer, conversation_id=one["id"], body="two")  # 2
    clock.advance(timedelta(seconds=10))
    two = await start(client, who=m.buyer, listing_id=second["id"])  # 3, in another conversation

    refused = await post_message(client, who=m.buyer, conversation_id=one["id"], body="four")
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "50"
    assert_problem(
        await post_start(client, who=m.buyer, listing_id=second["id"], message="again"),
        429,
        "rate_limited",
    )
    # The other side has a limit of their own.
    await send(client, who=m.seller, conversation_id=one["id"], body="Slow down :)")

    clock.advance(timedelta(seconds=49, milliseconds=500))
    refused = await post_message(client, who=m.buyer, conversation_id=two["id"], body="four")
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "1"

    clock.advance(timedelta(seconds=1))  # the first two left the window
    await send(client, who=m.buyer, conversation_id=two["id"], body="four")
    await send(client, who=m.buyer, conversation_id=one["id"], body="five")
    refused = await post_message(client, who=m.buyer, conversation_id=one["id"], body="six")
    assert refused.headers["Retry-After"] == "10"

    bodies = [
        msg["body"] for msg in await all_messages(client, who=m.buyer, conversation_id=one["id"])
    ]
    assert bodies == ["five", "Slow down :)", "two", "Is it still available?"]


# --- events -----------------------------------------------------------------------------------


async def test_each_message_emits_message_created(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await unpaid_order(client, market=m)
    conversation = await start(client, who=m.buyer, order_id=order["id"], message="Hello")
    reply = await send(client, who=m.seller, conversation_id=conversation["id"], body="Hi!")

    from_buyer, from_seller = await message_events(session, conversation["id"])
    (first,) = [
        msg
        for msg in await all_messages(client, who=m.buyer, conversation_id=conversation["id"])
        if msg["body"] == "Hello"
    ]
    common = {
        "conversation_id": conversation["id"],
        "buyer_id": m.buyer.user_id,
        "seller_id": m.seller_id,
        "listing_id": None,
        "order_id": order["id"],
    }
    assert from_buyer.data == {
        **common,
        "message_id": first["id"],
        "sender_id": m.buyer.user_id,
        "recipient_id": m.seller.user_id,
        "body": "Hello",
    }
    assert from_seller.data == {
        **common,
        "message_id": reply["id"],
        "sender_id": m.seller.user_id,
        "recipient_id": m.buyer.user_id,
        "body": "Hi!",
    }
    assert {str(e.seller_id) for e in (from_buyer, from_seller)} == {m.seller_id}

    # A refused message leaves no event behind.
    assert_problem(
        await post_message(client, who=m.buyer, conversation_id=conversation["id"], body=""),
        422,
        "validation_error",
    )
    assert len(await message_events(session, conversation["id"])) == 2


# --- issue 15: what the conversation list shows -------------------------------------------


async def _me(client: httpx.AsyncClient, who: LoggedIn) -> Json:
    me: Json = json_ok(await client.get("/v1/me", headers=who.headers))
    return me


async def test_the_list_names_the_counterpart_the_listing_and_the_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    pictured = json_ok(
        await client.post(
            f"/v1/listings/{listing['id']}/images",
            files={"file": ("x.png", PNG_1X1, "image/png")},
            headers=m.seller.headers,
        ),
        201,
    )
    about_listing = await start(client, who=m.buyer, listing_id=listing["id"])
    bought, order = await paid_order(client, market=m, price=1200, quantity=2, shipping=300)
    about_order = await start(client, who=m.buyer, order_id=order["id"], message="When?")
    shop = json_ok(await client.get(f"/v1/sellers/{m.seller_id}"))
    seller_me, buyer_me = await _me(client, m.seller), await _me(client, m.buyer)

    by_id = {c["id"]: c for c in await mine(client, m.buyer)}

    for conversation in by_id.values():
        assert conversation["counterpart"] == {
            "id": m.seller.user_id,
            "display_name": seller_me["display_name"],
            "role": "seller",
            "shop_id": m.seller_id,
            "shop_name": shop["shop_name"],
        }
        assert conversation["shop_id"] == conversation["seller_id"] == m.seller_id
    listed = by_id[about_listing["id"]]
    assert listed["listing"] == {
        "id": listing["id"],
        "title": listing["title"],
        "thumbnail_url": pictured["images"][0]["urls"]["thumbnail"],
    }
    assert listed["order"] is None
    ordered = by_id[about_order["id"]]
    assert ordered["listing"] == {
        "id": bought["id"],
        "title": bought["title"],
        "thumbnail_url": None,
    }
    assert ordered["order"] == {
        "id": order["id"],
        "status": "paid",
        "total": {"amount": 2 * 1200 + 300, "currency": "USD"},
        "item_count": 2,
        "created_at": order["created_at"],
    }
    # The starting answer and the single read carry the same.
    assert about_order["counterpart"] == ordered["counterpart"]
    assert await get_conversation(client, m.buyer, about_order["id"]) == ordered

    # The seller sees the buyer.
    (seen,) = [c for c in await mine(client, m.seller) if c["id"] == about_listing["id"]]
    assert seen["counterpart"] == {
        "id": m.buyer.user_id,
        "display_name": buyer_me["display_name"],
        "role": "buyer",
        "shop_id": None,
        "shop_name": None,
    }
    assert seen["unread_count"] == 1


async def test_a_page_of_conversations_is_one_query_however_many_it_holds(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    buyers = [m.buyer, *[await buyer_user(client) for _ in range(2)]]
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)

    async def statements_of_one_page() -> list[str]:
        async with statements_sent(session) as sent:
            page = await get_page(client, who=m.seller, path=CONVERSATIONS, limit=100)
        assert all(c["counterpart"]["display_name"] for c in page["items"])
        return [s for s in sent if "FROM conversations" in s]

    await start(client, who=buyers[0], listing_id=listing["id"])
    one = await statements_of_one_page()
    for buyer in buyers[1:]:
        await start(client, who=buyer, listing_id=listing["id"])
    three = await statements_of_one_page()

    assert len(one) == len(three) == 1
