"""Running balances: what the balance view and payouts read, and what reconcile proves against
the entries."""

import uuid

import httpx
from sqlalchemy import ColumnElement, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.payments.models import Account, AccountBalance
from tests.factories.api import assert_problem
from tests.factories.orders import Market, confirm, market, paid_order, ship
from tests.factories.payments import (
    amounts,
    balance,
    post_payout,
    reconcile,
    reconcile_ok,
)

PROCEEDS = 1350  # 1000 + 500 shipping, less the 10 % commission


async def _seller_with_proceeds(client: httpx.AsyncClient, session: AsyncSession) -> Market:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, price=1000, shipping=500)
    await ship(client, who=m.seller, order_id=order["id"])
    await confirm(client, who=m.buyer, order_id=order["id"])
    assert await balance(client, seller=m.seller) == amounts(available=PROCEEDS)
    await reconcile_ok(client, admin=m.admin)
    return m


def _running(seller_id: str, account: Account) -> ColumnElement[bool]:
    return (
        (AccountBalance.owner_id == uuid.UUID(seller_id))
        & (AccountBalance.account == account)
        & (AccountBalance.currency == "USD")
    )


async def test_reconcile_reports_every_running_balance_that_disagrees_with_its_entries(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await _seller_with_proceeds(client, session)
    stranger = uuid.uuid4()

    # Drifted; made up (no entries at all); and missing where nothing was ever posted, which
    # is no violation: a missing running balance is zero, as the sum of no entries is.
    await session.execute(
        update(AccountBalance)
        .where(_running(m.seller_id, Account.seller_available))
        .values(balance=AccountBalance.balance + 7)
    )
    await session.execute(
        delete(AccountBalance).where(_running(m.seller_id, Account.seller_pending))
    )
    await session.execute(
        insert(AccountBalance).values(
            owner_id=stranger, account=Account.seller_reserved, currency="USD", balance=-5
        )
    )
    report = await reconcile(client, admin=m.admin)

    assert report["ok"] is False
    assert sorted((v["check"], v["detail"]) for v in report["violations"]) == sorted(
        [
            (
                "running_balance_agrees",
                f"seller_available of seller {m.seller_id}: the running balance is "
                f"{PROCEEDS + 7} USD, its entries sum to {PROCEEDS} USD",
            ),
            (
                "running_balance_agrees",
                f"seller_reserved of seller {stranger}: the running balance is -5 USD, "
                "its entries sum to 0 USD",
            ),
        ]
    )


async def test_a_missing_running_balance_with_entries_is_reported(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await _seller_with_proceeds(client, session)

    await session.execute(
        delete(AccountBalance).where(_running(m.seller_id, Account.seller_available))
    )
    report = await reconcile(client, admin=m.admin)

    assert report["violations"] == [
        {
            "check": "running_balance_agrees",
            "detail": f"seller_available of seller {m.seller_id}: the running balance is 0 USD, "
            f"its entries sum to {PROCEEDS} USD",
        }
    ]


async def test_the_balance_view_and_payouts_read_the_running_balance(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Planted drift shows that neither sums the entries any more: both see the running
    balance (and reconcile, which does sum them, catches the difference)."""
    m = await _seller_with_proceeds(client, session)

    await session.execute(
        update(AccountBalance)
        .where(_running(m.seller_id, Account.seller_available))
        .values(balance=100)
    )

    assert await balance(client, seller=m.seller) == amounts(available=100)
    refused = await post_payout(client, seller=m.seller, amount=1000)
    problem = assert_problem(refused, 409, "insufficient_balance")
    assert problem["available"] == {"amount": 100, "currency": "USD"}
    assert (await post_payout(client, seller=m.seller, amount=100)).status_code == 201
    assert await balance(client, seller=m.seller) == amounts(in_transit=100)
    report = await reconcile(client, admin=m.admin)
    assert [v["check"] for v in report["violations"]] == ["running_balance_agrees"]
