"""What the return and dispute screens need (issue 15): the parties' own lists, names and
ids, each action with its deadline, every evidence file, messages and evidence after
escalation, and amounts as Money in the timeline."""

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, me, register_and_login
from tests.factories.api import Json, assert_problem, json_ok, parse_time
from tests.factories.api_keys import ALL_SCOPES, integration_of
from tests.factories.disputes import (
    EVIDENCE_PNG,
    completed_order,
    get_dispute,
    post_dispute,
    post_dispute_message,
    post_resolve,
    post_return,
    return_step,
    shipped_order,
    upload_evidence,
)
from tests.factories.orders import Market, market
from tests.factories.statements import statements_sent


async def a_return(client: httpx.AsyncClient, m: Market) -> tuple[Json, Json]:
    """A completed order of the market and the buyer's return of it: (order, return)."""
    order = await completed_order(client, market=m)
    created: Json = json_ok(await post_return(client, who=m.buyer, order=order), 201)
    return order, created


async def a_dispute(client: httpx.AsyncClient, m: Market) -> Json:
    order = await shipped_order(client, market=m)
    created: Json = json_ok(await post_dispute(client, who=m.buyer, order_id=order["id"]), 201)
    return created


async def listed(client: httpx.AsyncClient, who: LoggedIn, path: str, **params: Any) -> Json:
    found: Json = json_ok(await client.get(path, params=params, headers=who.headers))
    return found


def ids(page: Json) -> list[str]:
    return [item["id"] for item in page["items"]]


async def shop_name(client: httpx.AsyncClient, m: Market) -> str:
    name: str = json_ok(await client.get(f"/v1/sellers/{m.seller_id}"))["shop_name"]
    return name


# --- GET /v1/returns --------------------------------------------------------------------------


async def test_returns_list_shows_the_callers_own_newest_first_with_filters(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    first_order, first = await a_return(client, m)
    _second_order, second = await a_return(client, m)
    json_ok(await return_step(client, who=m.seller, return_id=second["id"], step="approve"))
    stranger = await register_and_login(client)

    mine = await listed(client, m.buyer, "/v1/returns")
    assert ids(mine) == [second["id"], first["id"]]
    assert mine["next_cursor"] is None
    assert ids(await listed(client, m.buyer, "/v1/returns", role="buyer")) == ids(mine)
    assert ids(await listed(client, m.buyer, "/v1/returns", role="seller")) == []
    assert ids(await listed(client, m.seller, "/v1/returns", role="seller")) == ids(mine)
    assert ids(await listed(client, stranger, "/v1/returns")) == []
    # An admin's own list holds only what they are a party to.
    assert ids(await listed(client, m.admin, "/v1/returns")) == []

    by_status = await listed(client, m.seller, "/v1/returns", status=["requested", "rejected"])
    assert ids(by_status) == [first["id"]]
    both = await listed(client, m.seller, "/v1/returns", status=["requested", "approved"])
    assert ids(both) == [second["id"], first["id"]]
    of_order = await listed(client, m.buyer, "/v1/returns", order_id=first_order["id"])
    assert ids(of_order) == [first["id"]]

    page_one = await listed(client, m.buyer, "/v1/returns", limit=1)
    assert ids(page_one) == [second["id"]]
    page_two = await listed(client, m.buyer, "/v1/returns", limit=1, cursor=page_one["next_cursor"])
    assert ids(page_two) == [first["id"]]

    (row,) = (await listed(client, m.seller, "/v1/returns", status="requested"))["items"]
    assert row["order_id"] == first_order["id"]
    assert row["shop_id"] == row["seller_id"] == m.seller_id
    assert row["shop_name"] == await shop_name(client, m)
    assert row["buyer_id"] == m.buyer.user_id
    assert row["buyer_display_name"] == (await me(client, who=m.buyer))["display_name"]
    assert row["refund"] == first["refund"]
    assert row["allowed_actions"] == ["approve", "reject"]
    assert row["actions"] == [
        {"name": "approve", "deadline": first["respond_by"]},
        {"name": "reject", "deadline": first["respond_by"]},
    ]

    response = await client.get("/v1/returns", params={"state": "x"}, headers=m.buyer.headers)
    assert_problem(response, 422, "validation_error")


async def test_an_api_key_lists_its_shops_returns_whatever_side_it_asks(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _order, created = await a_return(client, m)
    key = await integration_of(client, owner=m.seller, scopes=ALL_SCOPES)

    assert ids(await listed(client, key, "/v1/returns")) == [created["id"]]
    assert ids(await listed(client, key, "/v1/returns", role="buyer")) == [created["id"]]


async def test_a_page_of_returns_or_disputes_takes_as_many_queries_however_long(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    await a_return(client, m)
    await a_dispute(client, m)
    counts: dict[str, list[int]] = {"/v1/returns": [], "/v1/disputes": []}
    for _round in range(2):
        for path, seen in counts.items():
            async with statements_sent(session) as sent:
                json_ok(await client.get(path, headers=m.seller.headers))
            seen.append(len(sent))
        await a_return(client, m)
        await a_return(client, m)
        await a_dispute(client, m)
        await a_dispute(client, m)
    assert len((await listed(client, m.seller, "/v1/returns"))["items"]) == 5
    for path, (one, three) in counts.items():
        assert one == three, path


# --- GET /v1/disputes -------------------------------------------------------------------------


async def test_disputes_list_shows_the_callers_own_newest_first_with_filters(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    first = await a_dispute(client, m)
    second = await a_dispute(client, m)
    json_ok(await client.post(f"/v1/disputes/{second['id']}/escalate", headers=m.buyer.headers))
    stranger = await register_and_login(client)
    key = await integration_of(client, owner=m.seller, scopes=ALL_SCOPES)

    mine = await listed(client, m.buyer, "/v1/disputes")
    assert ids(mine) == [second["id"], first["id"]]
    assert ids(await listed(client, m.buyer, "/v1/disputes", role="seller")) == []
    assert ids(await listed(client, m.seller, "/v1/disputes", role="seller")) == ids(mine)
    assert ids(await listed(client, key, "/v1/disputes", role="buyer")) == ids(mine)
    assert ids(await listed(client, stranger, "/v1/disputes")) == []
    assert ids(await listed(client, m.admin, "/v1/disputes")) == []
    assert ids(await listed(client, m.buyer, "/v1/disputes", status="escalated")) == [second["id"]]
    assert ids(await listed(client, m.buyer, "/v1/disputes", status=["open", "escalated"])) == ids(
        mine
    )
    assert ids(await listed(client, m.buyer, "/v1/disputes", order_id=first["order_id"])) == [
        first["id"]
    ]
    page_one = await listed(client, m.buyer, "/v1/disputes", limit=1)
    assert ids(page_one) == [second["id"]]
    assert page_one["next_cursor"] is not None

    (row,) = (await listed(client, m.seller, "/v1/disputes", status="open"))["items"]
    assert row["shop_id"] == row["seller_id"] == m.seller_id
    assert row["shop_name"] == await shop_name(client, m)
    assert row["buyer_display_name"] == (await me(client, who=m.buyer))["display_name"]
    assert row["order_total"] == {"amount": 1500, "currency": "USD"}
    assert row["allowed_actions"] == ["seller_reply", "escalate", "message", "add_evidence"]
    assert row["actions"][0] == {"name": "seller_reply", "deadline": first["respond_by"]}
    assert [a["deadline"] for a in row["actions"][1:]] == [None, None, None]

    response = await client.get("/v1/disputes", params={"status": "lost"}, headers=m.buyer.headers)
    assert_problem(response, 422, "validation_error")


# --- read models ------------------------------------------------------------------------------


async def test_return_and_dispute_name_the_shop_and_carry_action_deadlines(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order, created = await a_return(client, m)
    seller_view: Json = json_ok(
        await client.get(f"/v1/returns/{created['id']}", headers=m.seller.headers)
    )
    assert seller_view["shop_id"] == seller_view["seller_id"] == order["seller_id"]
    assert seller_view["shop_name"] == await shop_name(client, m)
    assert seller_view["buyer_display_name"] == (await me(client, who=m.buyer))["display_name"]
    assert parse_time(seller_view["respond_by"]) > parse_time(seller_view["created_at"])
    assert seller_view["actions"] == [
        {"name": name, "deadline": seller_view["respond_by"]}
        for name in seller_view["allowed_actions"]
    ]
    assert seller_view["allowed_actions"] == ["approve", "reject"]

    dispute = await a_dispute(client, m)
    seller_dispute: Json = json_ok(
        await get_dispute(client, who=m.seller, dispute_id=dispute["id"])
    )
    assert seller_dispute["shop_id"] == seller_dispute["seller_id"] == m.seller_id
    assert [a["name"] for a in seller_dispute["actions"]] == seller_dispute["allowed_actions"]
    assert seller_dispute["actions"][0] == {
        "name": "seller_reply",
        "deadline": seller_dispute["respond_by"],
    }
    assert seller_dispute["order_total"] == {"amount": 1500, "currency": "USD"}


# --- evidence and escalation ------------------------------------------------------------------


async def test_every_evidence_file_is_listed_and_parties_add_more_after_escalation(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    dispute = await a_dispute(client, m)
    did = dispute["id"]
    uploaded: Json = json_ok(
        await upload_evidence(client, who=m.buyer, dispute_id=did, name="a.png", data=EVIDENCE_PNG),
        201,
    )
    assert uploaded["uploader_role"] == "buyer"

    found: Json = json_ok(await get_dispute(client, who=m.seller, dispute_id=did))
    assert found["messages"] == []
    (listed_file,) = found["evidence"]
    assert listed_file["id"] == uploaded["id"]
    assert listed_file["content_type"] == "image/png"
    assert listed_file["size_bytes"] == len(EVIDENCE_PNG)
    assert listed_file["uploader_id"] == m.buyer.user_id
    assert listed_file["uploader_role"] == "buyer"
    download = await client.get(listed_file["url"], headers=m.seller.headers)
    assert download.status_code == 200
    assert download.content == EVIDENCE_PNG

    json_ok(await client.post(f"/v1/disputes/{did}/escalate", headers=m.seller.headers))
    for who, role in ((m.buyer, "buyer"), (m.seller, "seller")):
        escalated: Json = json_ok(await get_dispute(client, who=who, dispute_id=did))
        assert escalated["status"] == "escalated"
        assert escalated["allowed_actions"] == ["message", "add_evidence"]
        assert escalated["actions"] == [
            {"name": "message", "deadline": None},
            {"name": "add_evidence", "deadline": None},
        ]
        more: Json = json_ok(
            await upload_evidence(client, who=who, dispute_id=did, name="b.pdf", data=EVIDENCE_PNG),
            201,
        )
        assert more["uploader_role"] == role
        said = json_ok(
            await post_dispute_message(
                client, who=who, dispute_id=did, body="see this", evidence_ids=[more["id"]]
            ),
            201,
        )
        assert said["status"] == "escalated"
        assert said["messages"][-1]["evidence"] == [more]
    after: Json = json_ok(await get_dispute(client, who=m.admin, dispute_id=did))
    assert [e["uploader_role"] for e in after["evidence"]] == ["buyer", "buyer", "seller"]
    assert "resolve" in after["allowed_actions"]

    json_ok(await post_resolve(client, admin=m.admin, dispute_id=did, outcome="release_to_seller"))
    for who in (m.buyer, m.seller, m.admin):
        resolved: Json = json_ok(await get_dispute(client, who=who, dispute_id=did))
        assert resolved["allowed_actions"] == []
        assert resolved["actions"] == []
    assert_problem(
        await post_dispute_message(client, who=m.buyer, dispute_id=did, body="late"),
        409,
        "dispute_resolved",
    )
    assert_problem(
        await upload_evidence(
            client, who=m.seller, dispute_id=did, name="c.png", data=EVIDENCE_PNG
        ),
        409,
        "dispute_resolved",
    )


# --- money in the timeline --------------------------------------------------------------------


async def test_refunds_in_return_and_dispute_timelines_are_money(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _order, created = await a_return(client, m)
    (requested,) = created["timeline"]
    assert requested["details"]["refund"] == created["refund"]

    rid = created["id"]
    json_ok(await return_step(client, who=m.seller, return_id=rid, step="approve"))
    ship_back = {"carrier": "sandbox", "tracking_number": "SBX00000002-SILENT"}
    json_ok(await return_step(client, who=m.buyer, return_id=rid, step="ship-back", body=ship_back))
    received: Json = json_ok(await return_step(client, who=m.seller, return_id=rid, step="receive"))
    assert received["timeline"][-1]["action"] == "receive"
    assert received["timeline"][-1]["details"]["refund"] == created["refund"]

    dispute = await a_dispute(client, m)
    resolved: Json = json_ok(
        await post_resolve(
            client, admin=m.admin, dispute_id=dispute["id"], outcome="partial_refund", amount=700
        )
    )
    assert resolved["timeline"][-1]["details"]["refund"] == {"amount": 700, "currency": "USD"}
