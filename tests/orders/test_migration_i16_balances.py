"""The issue-16 migration of balances fills the running balances from the entries posted before
it, on whichever database this run targets; its downgrade removes them."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import alembic_config
from app.core.db import create_engine
from app.payments.models import Account, AccountBalance, LedgerEntry, LedgerTransaction
from tests.conftest import ScratchDatabases
from tests.factories.apps import make_settings

REVISION = "i16b_balances"


def _run(url: str, step: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        engine = create_engine(make_settings(url))
        try:
            async with AsyncSession(engine) as session, session.begin():
                return await step(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_the_migration_fills_running_balances_from_the_entries(
    scratch_databases: ScratchDatabases,
) -> None:
    url = scratch_databases.new_url()
    config = alembic_config(make_settings(url))
    revision = ScriptDirectory.from_config(config).get_revision(REVISION)
    assert revision is not None
    before = revision.down_revision
    assert isinstance(before, str)
    command.upgrade(config, before)
    shop_a, shop_b = uuid.uuid4(), uuid.uuid4()
    # (account, owner, amount, currency) per transaction, as the code before posted them.
    history: list[list[tuple[Account, uuid.UUID | None, int, str]]] = [
        [(Account.external, None, -5000, "USD"), (Account.escrow, None, 5000, "USD")],
        [
            (Account.escrow, None, -5000, "USD"),
            (Account.seller_available, shop_a, 3000, "USD"),
            (Account.seller_pending, shop_b, 1500, "USD"),
            (Account.platform_commission, None, 500, "USD"),
        ],
        [
            (Account.seller_available, shop_a, -1000, "USD"),
            (Account.payouts_in_transit, shop_a, 1000, "USD"),
        ],
        [(Account.payouts_in_transit, shop_a, -1000, "USD"), (Account.external, None, 1000, "USD")],
        [(Account.external, None, -70, "EUR"), (Account.seller_available, shop_b, 70, "EUR")],
    ]

    async def post_history(session: AsyncSession) -> None:
        for legs in history:
            transaction = LedgerTransaction(kind="adjustment")
            session.add(transaction)
            await session.flush()
            session.add_all(
                LedgerEntry(
                    transaction_id=transaction.id,
                    account=account,
                    owner_id=owner,
                    amount=amount,
                    currency=currency,
                )
                for account, owner, amount, currency in legs
            )

    _run(url, post_history)
    command.upgrade(config, REVISION)

    async def running(session: AsyncSession) -> set[tuple[uuid.UUID, Account, str, int]]:
        rows = await session.execute(
            select(
                AccountBalance.owner_id,
                AccountBalance.account,
                AccountBalance.currency,
                AccountBalance.balance,
            )
        )
        return {tuple(row) for row in rows}

    assert _run(url, running) == {
        (shop_a, Account.seller_available, "USD", 2000),
        (shop_a, Account.payouts_in_transit, "USD", 0),
        (shop_b, Account.seller_pending, "USD", 1500),
        (shop_b, Account.seller_available, "EUR", 70),
    }

    command.downgrade(config, before)

    async def tables(session: AsyncSession) -> set[str]:
        connection = await session.connection()
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))

    remaining = _run(url, tables)
    assert "account_balances" not in remaining
    assert "ledger_entries" in remaining
