"""Many processes, one truth: two API servers (one of them `serve --workers 2`) and two
`marketplace worker` processes on one PostgreSQL database, every one of them reaching it
through a private PgBouncer in transaction pooling mode.

Purchases go through both APIs at once (a scarce listing raced from both), the sellers ship,
the workers complete the orders and release the funds, the sellers race two payout requests
through the two APIs, and every event is sent to a real webhook receiver that de-duplicates
by `webhook-id`. At the end the database is read directly: no oversell, every worker job done
exactly once, every webhook event delivered, the ledger reconciled.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from scripts.local_pgbouncer import PgBouncer
from tests.conftest import ScratchDatabases
from tests.factories.accounts import LoggedIn, login, register_and_login
from tests.factories.api import Json, json_ok
from tests.factories.catalog import listing_for_sale, nested_leaf_category
from tests.factories.orders import pay, post_checkout, ship
from tests.factories.payments import balance, post_payout, reconcile_ok
from tests.factories.sellers import apply_ok, approve
from tests.factories.webhooks import EVENT_TYPES_PATH, create_endpoint
from tests.integration.conftest import LiveServers
from tests.integration.harness import LiveServer, SettingValue, WebhookReceiver, migrate_database

pytestmark = pytest.mark.postgres_only

# What every process of the deployment is started with.
DEPLOYMENT: dict[str, SettingValue] = {
    "database_transaction_pooler": True,
    # One test client logs in many people from one address.
    "rate_limits_enabled": False,
    "auto_complete_after": 1,
    "payout_hold": 1,
    "worker_interval": 0.2,
    "webhook_timeout": 1,
    "webhook_retry_base": 0.3,
}
ADMIN_EMAIL = "admin@many-processes.example"
ADMIN_PASSWORD = "a-long-admin-password-for-this-test"
BUYERS = 8
LISTINGS_PER_SELLER = 4
STOCK = 2  # per regular listing: BUYERS / LISTINGS_PER_SELLER buyers take a unit each
SCARCE_STOCK = 2
SCARCE_RIVALS = 8
PATIENCE = 45  # seconds a step of the workers may take before the test gives up


def _api_children(server: LiveServer) -> list[str]:
    """The command lines of the server process's children (uvicorn's worker processes)."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        for child in children
    ]


async def _until(what: str, check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until it holds: the other processes' progress is not ours to await."""
    deadline = time.monotonic() + PATIENCE
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {PATIENCE}s: {what}")
        await asyncio.sleep(0.2)


async def _seller(api: httpx.AsyncClient, reviewer: httpx.AsyncClient, admin: LoggedIn) -> Json:
    seller = await register_and_login(api, display_name="Seller")
    shop_id: str = (await apply_ok(api, who=seller))["id"]
    await approve(reviewer, admin=admin, seller_id=shop_id)
    return {"login": seller, "shop_id": shop_id}


async def _buy(api: httpx.AsyncClient, buyer: LoggedIn, items: list[Json]) -> list[Json]:
    """Checkout and pay through `api`: the paid orders (none when the stock ran out)."""
    created = await post_checkout(api, who=buyer, items=items)
    if created.status_code == 409:
        # Too few left, or (once the last unit went) no longer for sale.
        assert created.json()["code"] in {"insufficient_stock", "listing_unavailable"}, created.text
        return []
    checkout: Json = json_ok(created, 201)
    orders: list[Json] = (await pay(api, who=buyer, checkout_id=checkout["id"]))["orders"]
    return orders


@pytest.fixture
def direct_url(scratch_databases: ScratchDatabases) -> str:
    """A fresh database (dropped at the end of the run), as the test itself reaches it."""
    return scratch_databases.new_url()


async def test_two_apis_and_two_workers_behind_pgbouncer_agree(
    live_servers: LiveServers,
    webhook_receiver: WebhookReceiver,
    pgbouncer: PgBouncer,
    direct_url: str,
    tmp_path: Path,
) -> None:
    pooled_url = pgbouncer.url_for(direct_url)
    migrate_database(pooled_url, tmp_path, DEPLOYMENT)
    one = live_servers.start(
        name="api-one",
        database_url=pooled_url,
        in_process_worker=False,
        settings=DEPLOYMENT,
        workers=2,
    )
    two = live_servers.start(
        name="api-two", database_url=pooled_url, in_process_worker=False, settings=DEPLOYMENT
    )
    for _ in range(2):
        one.start_worker(settings=DEPLOYMENT)
    one.create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    # `serve --workers 2` is a supervisor with two uvicorn worker processes.
    assert len([c for c in _api_children(one) if "spawn_main" in c]) == 2, _api_children(one)
    # The first two webhook requests hang past the sender's timeout: they are sent again,
    # under the same webhook-id.
    webhook_receiver.hang(2.5, first=2)

    async with (
        httpx.AsyncClient(base_url=one.base_url, timeout=30) as a,
        httpx.AsyncClient(base_url=two.base_url, timeout=30) as b,
    ):
        apis = (a, b)
        admin = await login(a, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        category_id = await nested_leaf_category(b, admin=admin)
        sellers = [await _seller(apis[i], apis[1 - i], admin) for i in range(2)]
        event_types = [
            t["type"]
            for t in json_ok(await a.get(EVENT_TYPES_PATH, headers=sellers[0]["login"].headers))
        ]
        endpoints = {
            f"/shop-{i}": await create_endpoint(
                apis[i],
                who=seller["login"],
                url=webhook_receiver.url_for(f"/shop-{i}"),
                event_types=event_types,
            )
            for i, seller in enumerate(sellers)
        }
        listings = [
            [
                await listing_for_sale(
                    apis[i], seller=seller["login"], category_id=category_id, quantity=STOCK
                )
                for _ in range(LISTINGS_PER_SELLER)
            ]
            for i, seller in enumerate(sellers)
        ]
        scarce = await listing_for_sale(
            b, seller=sellers[0]["login"], category_id=category_id, quantity=SCARCE_STOCK
        )
        buyers = [
            await register_and_login(apis[i % 2], display_name="Buyer") for i in range(BUYERS)
        ]

        # Every buyer buys one unit of a listing of each shop, all at once, half through
        # each API; then all of them race for the scarce listing.
        carts = [
            [
                {"listing_id": listings[shop][i % LISTINGS_PER_SELLER]["id"], "quantity": 1}
                for shop in range(2)
            ]
            for i in range(BUYERS)
        ]
        bought = await asyncio.gather(
            *(_buy(apis[i % 2], buyer, carts[i]) for i, buyer in enumerate(buyers))
        )
        raced = await asyncio.gather(
            *(
                _buy(apis[i % 2], buyers[i % BUYERS], [{"listing_id": scarce["id"], "quantity": 1}])
                for i in range(SCARCE_RIVALS)
            )
        )
        assert [len(orders) for orders in bought] == [2] * BUYERS
        assert (
            sorted(len(orders) for orders in raced)
            == [0] * (SCARCE_RIVALS - SCARCE_STOCK) + [1] * SCARCE_STOCK
        )
        orders = [order for group in [*bought, *raced] for order in group]
        shop_of = {seller["shop_id"]: seller["login"] for seller in sellers}

        await asyncio.gather(
            *(
                ship(apis[n % 2], who=shop_of[order["shop_id"]], order_id=order["id"])
                for n, order in enumerate(orders)
            )
        )

        primary = await asyncpg.connect(
            make_url(direct_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:

            async def count(sql: str, *args: Any) -> int:
                return int(await primary.fetchval(sql, *args))

            order_ids = [order["id"] for order in orders]

            async def all_released() -> bool:
                return await count(
                    "SELECT count(*) FROM orders WHERE id::text = ANY($1)"
                    " AND status = 'completed' AND funds_release_at IS NULL",
                    order_ids,
                ) == len(orders)

            await _until("the workers complete every order and release its funds", all_released)

            # Both shops ask for all their money through both APIs at once: one payout each.
            for seller in sellers:
                available = (await balance(a, seller=seller["login"]))["available"]
                assert available > 0
                answers = await asyncio.gather(
                    *(post_payout(api, seller=seller["login"], amount=available) for api in apis)
                )
                assert sorted(r.status_code for r in answers) == [201, 409], [
                    r.text for r in answers
                ]

            async def payouts_settled() -> bool:
                return await count("SELECT count(*) FROM payouts WHERE status = 'pending'") == 0

            await _until("the workers settle the payouts", payouts_settled)

            async def webhooks_sent() -> bool:
                return (
                    await count("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
                    == 0
                )

            await _until("every webhook is sent", webhooks_sent)
            assert (
                await count("SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'")
                == 0
            )

            # No oversell: no stock below zero, and what each listing lost is what was ordered.
            stock = await primary.fetch(
                "SELECT l.id::text AS id, l.quantity,"
                " coalesce((SELECT sum(ol.quantity) FROM order_lines ol"
                "           WHERE ol.listing_id = l.id), 0) AS ordered"
                " FROM listings l"
            )
            initial = {row["id"]: STOCK for shop in listings for row in shop}
            initial[scarce["id"]] = SCARCE_STOCK
            assert {r["id"]: (r["quantity"], r["ordered"]) for r in stock} == {
                listing_id: (0, quantity) for listing_id, quantity in initial.items()
            }

            # Every job done exactly once: one completion and one release of the hold per
            # order, one settlement per payout, and no order event emitted twice.
            per_order = await primary.fetch(
                "SELECT kind, order_id::text AS order_id, count(*) AS n FROM ledger_transactions"
                " WHERE kind IN ('completion', 'hold_released') GROUP BY kind, order_id"
            )
            assert Counter((r["kind"], r["n"]) for r in per_order) == {
                ("completion", 1): len(orders),
                ("hold_released", 1): len(orders),
            }
            assert {r["order_id"] for r in per_order} == set(order_ids)
            completions = await primary.fetch(
                "SELECT order_id, count(*) AS n FROM order_events"
                " WHERE action = 'auto_complete' GROUP BY order_id"
            )
            assert sorted(r["n"] for r in completions) == [1] * len(orders)
            settlements = await primary.fetch(
                "SELECT p.status, count(t.id) AS n FROM payouts p"
                " LEFT JOIN ledger_transactions t ON t.payout_id = p.id"
                "  AND t.kind IN ('payout_paid', 'payout_failed')"
                " GROUP BY p.id, p.status"
            )
            assert [(r["status"], r["n"]) for r in settlements] == [("paid", 1)] * len(sellers)
            assert await count(
                "SELECT count(*) FROM provider_operations WHERE kind = 'payout'"
            ) == len(sellers)
            repeated = await primary.fetch(
                "SELECT type, data->>'order_id' AS order_id, count(*) FROM outbox_events"
                " WHERE type LIKE 'order.%' GROUP BY 1, 2 HAVING count(*) > 1"
            )
            assert repeated == []

            # Every event of every endpoint arrived, authentic, at least once; the receiver
            # tells redeliveries apart by webhook-id.
            expected = {
                str(r["event_id"]): r["url"]
                for r in await primary.fetch(
                    "SELECT d.event_id, e.url FROM webhook_deliveries d"
                    " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                )
            }
            received = webhook_receiver.by_event_id()
            assert set(received) == set(expected)
            for event_id, requests in received.items():
                for request in requests:
                    assert webhook_receiver.url_for(request.path) == expected[event_id]
                    request.verify(endpoints[request.path]["secret"])
            assert any(len(requests) > 1 for requests in received.values()), "no redelivery"
            assert {"order.completed", "payout.paid"} <= {
                r[0].json()["type"] for r in received.values()
            }
        finally:
            await primary.close()

        await reconcile_ok(b, admin=admin)
    # Every process reached the database through the pooler.
    assert f"{make_url(direct_url).database}/postgres@127.0.0.1" in pgbouncer.log_text()
