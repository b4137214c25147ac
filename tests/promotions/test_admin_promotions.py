"""The platform's promotions: made, changed and ended by admins only, every write audited;
admins oversee (and may end) the shops' promotions too, but do not change them."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import admin_user, buyer_user
from tests.factories.api import assert_problem, json_ok, only_page, usd
from tests.factories.audit import audit_log
from tests.factories.orders import market
from tests.factories.promotions import (
    ADMIN_PROMOTIONS,
    percent_body,
    platform_promotion,
    post_platform_promotion,
    shop_promotion,
)

TIERS = [
    {"min_subtotal": usd(5000), "discount": usd(500)},
    {"min_subtotal": usd(10000), "discount": usd(1500)},
]


async def test_an_admin_makes_changes_and_ends_a_platform_promotion_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    body = percent_body(
        name="Black Friday",
        kind="threshold",
        percent=...,
        max_discount=...,
        tiers=TIERS,
        code=None,
        seller_ids=[m.seller_id, m.seller_id],
        max_redemptions=1000,
    )

    created = json_ok(await post_platform_promotion(client, admin=m.admin, body=body), 201)

    assert created["funded_by"] == "platform"
    assert created["seller_id"] is None
    assert created["code"] is None
    assert created["max_per_buyer"] is None
    assert created["seller_ids"] == [m.seller_id]  # given twice, kept once
    assert created["tiers"] == TIERS
    assert created["status"] == "active"
    url = f"{ADMIN_PROMOTIONS}/{created['id']}"
    assert json_ok(await client.get(url, headers=m.admin.headers)) == created

    changed = json_ok(
        await client.patch(
            url, json={"name": "Black Friday week", "seller_ids": []}, headers=m.admin.headers
        )
    )
    assert (changed["name"], changed["seller_ids"]) == ("Black Friday week", [])
    ended = json_ok(
        await client.post(f"{url}/end", json={"reason": "Over early"}, headers=m.admin.headers)
    )
    assert ended["status"] == "ended"

    entries = await audit_log(
        client, admin=m.admin, target_type="promotion", target_id=created["id"]
    )
    assert [(e["action"], e["actor_id"], e["reason"]) for e in entries] == [
        ("promotion.end", m.admin.user_id, "Over early"),
        ("promotion.update", m.admin.user_id, None),
        ("promotion.create", m.admin.user_id, None),
    ]
    assert entries[1]["details"] == {"fields": ["name", "seller_ids"]}
    assert entries[2]["details"] == {"name": "Black Friday", "kind": "threshold", "code": None}


async def test_an_admin_sees_and_ends_shop_promotions_but_does_not_change_them(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    theirs = await shop_promotion(client, seller=m.seller)
    ours = await platform_promotion(client, admin=m.admin)
    url = f"{ADMIN_PROMOTIONS}/{theirs['id']}"

    listed = only_page(await client.get(ADMIN_PROMOTIONS, headers=m.admin.headers))
    assert [p["id"] for p in listed] == [ours["id"], theirs["id"]]  # newest first
    shops = only_page(
        await client.get(ADMIN_PROMOTIONS, params={"funded_by": "shop"}, headers=m.admin.headers)
    )
    assert [p["id"] for p in shops] == [theirs["id"]]
    assert json_ok(await client.get(url, headers=m.admin.headers)) == theirs
    assert_problem(
        await client.patch(url, json={"name": "Mine now"}, headers=m.admin.headers),
        403,
        "shop_promotion_read_only",
    )

    ended = json_ok(await client.post(f"{url}/end", headers=m.admin.headers))

    assert ended["status"] == "ended"
    entries = await audit_log(
        client, admin=m.admin, target_type="promotion", target_id=theirs["id"]
    )
    assert [(e["action"], e["details"]) for e in entries] == [
        ("promotion.end", {"funded_by": "shop", "seller_id": m.seller_id})
    ]


async def test_restrictions_name_real_shops_categories_and_listings(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await admin_user(client, session)
    nowhere = "00000000-0000-7000-8000-000000000001"

    expected = {"seller_ids": "shop", "category_ids": "category", "listing_ids": "listing"}
    for field, what in expected.items():
        refused = await post_platform_promotion(
            client, admin=admin, body=percent_body(**{field: [nowhere]})
        )
        problem = assert_problem(refused, 422, "validation_error")
        assert problem["errors"] == [{"loc": ["body", field, 0], "msg": f"no {what} {nowhere}"}]
    assert only_page(await client.get(ADMIN_PROMOTIONS, headers=admin.headers)) == []


async def test_only_admins_manage_platform_promotions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    promotion = await platform_promotion(client, admin=m.admin)
    url = f"{ADMIN_PROMOTIONS}/{promotion['id']}"

    for who in (m.seller, await buyer_user(client)):
        assert_problem(
            await post_platform_promotion(client, admin=who, body=percent_body()),
            403,
            "admin_required",
        )
        assert_problem(
            await client.get(ADMIN_PROMOTIONS, headers=who.headers), 403, "admin_required"
        )
        assert_problem(await client.get(url, headers=who.headers), 403, "admin_required")
        assert_problem(
            await client.patch(url, json={"name": "x"}, headers=who.headers), 403, "admin_required"
        )
        assert_problem(await client.post(f"{url}/end", headers=who.headers), 403, "admin_required")
    assert_problem(await client.get(ADMIN_PROMOTIONS), 401, "invalid_token")
    assert json_ok(await client.get(url, headers=m.admin.headers))["status"] == "active"
