"""Issue 15: the orders list has the filters of an orders screen (several states, a date range,
a text search, all with the role), and the counts of its tabs come in one request."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import clock
from tests.factories.accounts import me
from tests.factories.api import assert_problem
from tests.factories.catalog import listing_for_sale
from tests.factories.disputes import completed_order, shipped_order
from tests.factories.orders import (
    ORDERS,
    checkout,
    list_orders,
    market,
    order_counts,
    paid_order,
    relogin_market,
)
from tests.factories.sellers import approved_seller


async def test_status_takes_several_values_and_combines_with_the_role(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, paid = await paid_order(client, market=m)
    shipped = await shipped_order(client, market=m)
    completed = await completed_order(client, market=m)
    supplier, _ = await approved_seller(client, session, admin=m.admin)
    supply = await listing_for_sale(client, seller=supplier, category_id=m.category_id)
    await checkout(client, who=m.seller, items=[{"listing_id": supply["id"], "quantity": 1}])

    found = await list_orders(client, who=m.buyer, status=["paid", "shipped"])
    assert [o["id"] for o in found] == [shipped["id"], paid["id"]]
    sold = await list_orders(client, who=m.seller, role="seller", status=["paid", "completed"])
    assert [o["id"] for o in sold] == [completed["id"], paid["id"]]
    # The seller's own purchase is pending payment: not among their sales in any state.
    assert await list_orders(client, who=m.seller, role="seller", status="pending_payment") == []
    assert len(await list_orders(client, who=m.seller, status="pending_payment")) == 1


async def test_created_after_and_before_bound_the_list(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    clock.freeze()
    start = clock.now()
    _, early = await paid_order(client, market=m)
    clock.advance(timedelta(days=2))
    m = await relogin_market(client, market=m)
    _, late = await paid_order(client, market=m)
    middle = (start + timedelta(days=1)).isoformat()

    assert [o["id"] for o in await list_orders(client, who=m.buyer, created_after=middle)] == [
        late["id"]
    ]
    assert [o["id"] for o in await list_orders(client, who=m.buyer, created_before=middle)] == [
        early["id"]
    ]
    assert (
        await list_orders(
            client,
            who=m.seller,
            role="seller",
            created_after=start.isoformat(),
            created_before=middle,
            status="shipped",
        )
        == []
    )
    assert_problem(
        await client.get(ORDERS, params={"created_after": "yesterday"}, headers=m.buyer.headers),
        422,
        "validation_error",
    )


async def test_q_finds_orders_by_id_prefix_line_title_or_the_other_partys_name(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    lamp = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, title="Brass desk lamp"
    )
    lamp_order = (
        await checkout(client, who=m.buyer, items=[{"listing_id": lamp["id"], "quantity": 1}])
    )["orders"][0]
    _, other = await paid_order(client, market=m)

    def ids(orders: list[dict[str, object]]) -> list[object]:
        return [o["id"] for o in orders]

    assert ids(await list_orders(client, who=m.buyer, q="DESK lamp")) == [lamp_order["id"]]
    assert ids(await list_orders(client, who=m.buyer, q=other["id"][:13])) == [other["id"]]
    # The buyer finds the shop by name; the shop finds the buyer by display name.
    shop_name = lamp["seller"]["shop_name"]
    assert ids(await list_orders(client, who=m.buyer, q=shop_name[:6])) == ids(
        await list_orders(client, who=m.buyer)
    )
    buyer_name = (await me(client, who=m.buyer))["display_name"]
    assert len(await list_orders(client, who=m.seller, q=buyer_name, role="seller")) == 2
    # ... and their own name finds nothing: it is on every order of theirs.
    assert await list_orders(client, who=m.buyer, q=buyer_name) == []
    assert await list_orders(client, who=m.buyer, q="lamp", status="paid") == []
    assert await list_orders(client, who=m.buyer, q="100%_") == []


async def test_counts_per_status_list_every_status_for_the_callers_side(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    await paid_order(client, market=m)
    await paid_order(client, market=m)
    await shipped_order(client, market=m)
    supplier, _ = await approved_seller(client, session, admin=m.admin)
    supply = await listing_for_sale(client, seller=supplier, category_id=m.category_id)
    await checkout(client, who=m.seller, items=[{"listing_id": supply["id"], "quantity": 1}])

    sales = await order_counts(client, who=m.seller, role="seller")

    assert sales["counts"] == [
        {"status": "pending_payment", "count": 0},
        {"status": "paid", "count": 2},
        {"status": "shipped", "count": 1},
        {"status": "completed", "count": 0},
        {"status": "cancelled", "count": 0},
        {"status": "disputed", "count": 0},
        {"status": "refunded", "count": 0},
        {"status": "partially_refunded", "count": 0},
    ]
    assert sales["total"] == 3
    purchases = await order_counts(client, who=m.seller, role="buyer")
    assert {c["status"]: c["count"] for c in purchases["counts"]}["pending_payment"] == 1
    assert purchases["total"] == 1
    assert (await order_counts(client, who=m.seller))["total"] == 4
    assert (await order_counts(client, who=m.buyer))["total"] == 3
    assert_problem(
        await client.get(f"{ORDERS}/counts", params={"role": "x"}, headers=m.buyer.headers),
        422,
        "validation_error",
    )
