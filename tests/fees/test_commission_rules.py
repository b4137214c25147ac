"""Admins manage commission rules (audited); checkout applies the shop's rule, else the
nearest category's, else the default, and records on each line what it applied."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, buyer_user
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.audit import audit_log
from tests.factories.catalog import create_category, leaf_category, listing_for_sale
from tests.factories.orders import Market, checkout, market

RULES = "/v1/admin/commission-rules"


async def post_rule(client: httpx.AsyncClient, admin: LoggedIn, **body: Any) -> httpx.Response:
    return await client.post(RULES, json=body, headers=admin.headers)


async def create_rule(client: httpx.AsyncClient, admin: LoggedIn, **body: Any) -> Json:
    rule: Json = json_ok(await post_rule(client, admin, **body), 201)
    return rule


async def _bought_line(client: httpx.AsyncClient, m: Market, category_id: str) -> Json:
    listing = await listing_for_sale(
        client, seller=m.seller, category_id=category_id, price=1000, shipping=0
    )
    created = await checkout(
        client, who=m.buyer, items=[{"listing_id": listing["id"], "quantity": 1}]
    )
    (order,) = created["orders"]
    seen: Json = json_ok(await client.get(f"/v1/orders/{order['id']}", headers=m.seller.headers))
    (line,) = seen["lines"]
    return {
        "order_id": order["id"],
        "line": line,
        "commission": seen["commission"],
        "buyer_line": order["lines"][0],
    }


async def test_the_nearest_category_rule_wins_and_a_shop_rule_beats_every_category(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    root = await create_category(client, admin=m.admin)
    middle = await create_category(client, admin=m.admin, parent_id=root["id"])
    leaf = await leaf_category(client, admin=m.admin, parent_id=middle["id"])
    sibling = await leaf_category(client, admin=m.admin, parent_id=root["id"])
    on_root = await create_rule(client, m.admin, category_id=root["id"], percent=12)
    on_middle = await create_rule(client, m.admin, category_id=middle["id"], percent=7.5)

    in_leaf = await _bought_line(client, m, leaf)
    in_sibling = await _bought_line(client, m, sibling)

    assert (in_leaf["line"]["commission_percent"], in_leaf["line"]["commission_rule_id"]) == (
        7.5,
        on_middle["id"],
    )
    assert in_leaf["commission"] == {"amount": 75, "currency": "USD"}
    assert (in_sibling["line"]["commission_percent"], in_sibling["commission"]["amount"]) == (
        12.0,
        120,
    )
    assert in_sibling["line"]["commission_rule_id"] == on_root["id"]
    # The buyer sees neither the percent nor the rule.
    assert in_leaf["buyer_line"]["commission_percent"] is None
    assert in_leaf["buyer_line"]["commission_rule_id"] is None

    shop = await create_rule(client, m.admin, seller_id=m.seller_id, percent=3)
    negotiated = await _bought_line(client, m, leaf)

    assert negotiated["line"]["commission_rule_id"] == shop["id"]
    assert negotiated["commission"]["amount"] == 30
    # Orders checked out before keep what they recorded.
    before: Json = json_ok(
        await client.get(f"/v1/orders/{in_leaf['order_id']}", headers=m.seller.headers)
    )
    assert before["lines"][0]["commission_percent"] == 7.5
    assert before["commission"]["amount"] == 75


async def test_rules_out_of_their_dates_do_not_apply(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    await create_rule(
        client, m.admin, seller_id=m.seller_id, percent=1, starts_at="2999-01-01T00:00:00Z"
    )
    await create_rule(
        client,
        m.admin,
        seller_id=m.seller_id,
        percent=2,
        starts_at="2000-01-01T00:00:00Z",
        ends_at="2001-01-01T00:00:00Z",
    )

    bought = await _bought_line(client, m, m.category_id)

    assert bought["line"]["commission_rule_id"] is None
    assert bought["line"]["commission_percent"] == 10.0  # the default
    assert bought["commission"]["amount"] == 100


async def test_rule_writes_are_audited_with_what_changed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    rule = await create_rule(client, m.admin, seller_id=m.seller_id, percent=4, note="contract")

    changed: Json = json_ok(
        await client.patch(f"{RULES}/{rule['id']}", json={"percent": 5}, headers=m.admin.headers)
    )
    deleted = await client.delete(f"{RULES}/{rule['id']}", headers=m.admin.headers)

    assert changed["percent"] == 5.0
    assert deleted.status_code == 204
    assert (await client.get(f"{RULES}/{rule['id']}", headers=m.admin.headers)).status_code == 404
    entries = await audit_log(client, admin=m.admin, target_type="commission_rule")
    assert [e["action"] for e in entries] == [
        "commission_rule.delete",
        "commission_rule.update",
        "commission_rule.create",
    ]
    assert entries[1]["details"]["before"]["percent"] == "4.00"
    assert entries[1]["details"]["rule"]["percent"] == "5.00"
    assert all(e["actor_id"] == m.admin.user_id for e in entries)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"percent": 5}, "body"),  # no scope
        ({"percent": 101, "category_id": "CATEGORY"}, "percent"),
        ({"percent": -1, "category_id": "CATEGORY"}, "percent"),
        ({"percent": 2.555, "category_id": "CATEGORY"}, "percent"),
        ({"percent": "2.5", "category_id": "CATEGORY"}, "percent"),  # a number, not text
        ({"percent": 5, "category_id": "CATEGORY", "seller_id": "SELLER"}, "body"),
        ({"percent": 5, "category_id": "CATEGORY", "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_rules_are_422(
    client: httpx.AsyncClient, session: AsyncSession, body: Json, field: str
) -> None:
    m = await market(client, session)
    filled = {
        k: {"CATEGORY": m.category_id, "SELLER": m.seller_id}.get(v, v) if isinstance(v, str) else v
        for k, v in body.items()
    }

    problem = assert_problem(await post_rule(client, m.admin, **filled), 422, "validation_error")

    assert field in str(problem)
    listed: Json = json_ok(await client.get(RULES, headers=m.admin.headers))
    assert listed["items"] == []


async def test_dates_in_the_wrong_order_and_unknown_scopes_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)

    backwards = await post_rule(
        client,
        m.admin,
        seller_id=m.seller_id,
        percent=5,
        starts_at="2030-01-02T00:00:00Z",
        ends_at="2030-01-01T00:00:00Z",
    )
    no_category = await post_rule(
        client, m.admin, category_id="00000000-0000-7000-8000-000000000000", percent=5
    )
    no_shop = await post_rule(
        client, m.admin, seller_id="00000000-0000-7000-8000-000000000000", percent=5
    )

    assert_problem(backwards, 422, "invalid_commission_rule")
    assert no_category.status_code == 404
    assert no_shop.status_code == 404


async def test_only_admins_manage_rules(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    stranger = await buyer_user(client)

    for who in (m.seller, m.buyer, stranger):
        refused = await client.post(
            RULES, json={"seller_id": m.seller_id, "percent": 1}, headers=who.headers
        )
        assert_problem(refused, 403, "admin_required")
        assert_problem(await client.get(RULES, headers=who.headers), 403, "admin_required")
    assert (await client.get(RULES)).status_code == 401
