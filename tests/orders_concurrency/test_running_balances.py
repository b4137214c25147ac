"""Running balances under real concurrency (PostgreSQL): many postings for one seller at once,
each in its own transaction, lose no update, deadlock on nothing, and end equal to the sum of
their entries."""

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from app.payments import ledger
from app.payments.ledger import Leg
from app.payments.models import Account, LedgerEntry
from app.payments.provider import SandboxProvider
from app.payments.repository import LedgerRepository
from app.worker.runner import WorkerContext, run_once
from tests.factories.accounts import login
from tests.factories.api import assert_problem
from tests.factories.payments import amounts, balance, post_payout, reconcile_ok
from tests.factories.races import (
    ORDER_TOTAL,
    race_market,
    race_shipped_orders,
)

pytestmark = pytest.mark.postgres_only

SELLER_NET = ORDER_TOTAL - 300  # less the 10 % commission


async def _entry_sums(database: Database, owner_id: uuid.UUID) -> dict[Account, int]:
    """The owner's non-zero sums of entries."""
    async with database.session_scope() as session:
        rows = await session.execute(
            select(LedgerEntry.account, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.owner_id == owner_id)
            .group_by(LedgerEntry.account)
        )
        return {account: int(total) for account, total in rows if total}


async def _running(database: Database, owner_id: uuid.UUID) -> dict[Account, int]:
    """The owner's non-zero running balances (all in USD)."""
    async with database.session_scope() as session:
        balances = await ledger.owner_balances(session, owner_id)
        assert {currency for currency, _ in balances} == {"USD"}
        return {account: amount for (_, account), amount in balances.items() if amount}


async def _no_drift(database: Database) -> None:
    async with database.session_scope() as session:
        assert await LedgerRepository(session).drifted_balances() == []


async def test_concurrent_transactions_of_two_postings_each_in_opposite_orders_lose_nothing(
    committed_database: Database,
) -> None:
    """Each transaction posts twice, moving the seller's accounts in a different order from
    its neighbours' (as a dispute's refund and its reserve's release do in one transaction):
    locking only the rows each posting moves would deadlock here."""
    database, owner = committed_database, uuid.uuid4()
    rounds = 12

    async def sale_then_release() -> None:
        async with database.session_scope() as session:
            await ledger.post(
                session,
                "completion",
                [
                    Leg(Account.external, -100, "USD"),
                    Leg(Account.seller_pending, 100, "USD", owner),
                ],
            )
            await ledger.post(
                session,
                "hold_released",
                [
                    Leg(Account.seller_pending, -100, "USD", owner),
                    Leg(Account.seller_available, 100, "USD", owner),
                ],
            )

    async def reserve_then_release() -> None:
        async with database.session_scope() as session:
            await ledger.post(
                session,
                "dispute_reserve",
                [
                    Leg(Account.seller_available, -30, "USD", owner),
                    Leg(Account.seller_reserved, 30, "USD", owner),
                ],
            )
            await ledger.post(
                session,
                "dispute_release",
                [
                    Leg(Account.seller_reserved, -30, "USD", owner),
                    Leg(Account.seller_pending, 30, "USD", owner),
                ],
            )

    await asyncio.gather(
        *(task() for _ in range(rounds) for task in (sale_then_release, reserve_then_release))
    )

    expected = {Account.seller_available: rounds * 70, Account.seller_pending: rounds * 30}
    assert await _running(database, owner) == expected
    assert await _entry_sums(database, owner) == expected
    await _no_drift(database)


async def test_completions_payouts_and_settlements_of_one_shop_at_once_keep_its_balance(
    committed_client: httpx.AsyncClient, committed_database: Database, settings: Settings
) -> None:
    """Buyers confirm receipt of a shop's orders while its seller requests payouts and two
    workers auto-complete the rest and settle payouts: every request goes through, and the
    balance the seller sees is exactly what the entries say."""
    client, database = committed_client, committed_database
    market = await race_market(client, database)
    orders = 10
    buyers, order_ids = await race_shipped_orders(client, market=market, count=orders)
    # Half the orders are confirmed by their buyers, the rest auto-completed by the sweeps.
    clock.advance(settings.auto_complete_after + timedelta(minutes=1))
    buyers = [await login(client, email=b.email) for b in buyers]
    seller = await login(client, email=market.seller.email)
    confirmers = list(zip(buyers, order_ids, strict=True))[: orders // 2]
    payout = SELLER_NET // 4  # small enough that some payouts fit while sales arrive

    def worker() -> WorkerContext:
        return WorkerContext(database, settings, SandboxProvider())

    confirms, payouts, sweeps = await asyncio.gather(
        asyncio.gather(
            *(
                client.post(f"/v1/orders/{order_id}/confirm-receipt", headers=buyer.headers)
                for buyer, order_id in confirmers
            )
        ),
        asyncio.gather(*(post_payout(client, seller=seller, amount=payout) for _ in range(8))),
        asyncio.gather(run_once(worker()), run_once(worker())),
    )

    for sweep in sweeps:
        assert -1 not in sweep.values(), sweep
    assert [r.status_code for r in confirms] == [200] * len(confirmers), [r.text for r in confirms]
    paid_out = 0
    for response in payouts:
        if response.status_code == 201:
            paid_out += payout
        else:
            assert_problem(response, 409, "insufficient_balance")
    await run_once(worker())  # settles what was requested after the sweeps' settlements ran
    owner = uuid.UUID(market.seller_id)
    final = await balance(client, seller=seller)
    assert final == amounts(available=orders * SELLER_NET - paid_out)
    expected = {Account.seller_available: orders * SELLER_NET - paid_out}
    assert await _running(database, owner) == expected
    assert await _entry_sums(database, owner) == expected
    await _no_drift(database)
    await reconcile_ok(client, admin=await login(client, email=market.admin.email))
