"""Money: a seller's balance, ledger and payouts through the API, the reconcile check, and
the books read directly (what no endpoint shows: escrow, revenue, the provider)."""

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.payments import ledger
from app.payments.models import Account, LedgerTransaction, ProviderOperation
from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, new_key, parse_time, usd

BALANCE = "/v1/sellers/me/balance"
LEDGER = "/v1/sellers/me/ledger"
PAYOUTS = "/v1/sellers/me/payouts"
RECONCILE = "/v1/admin/ledger/reconcile"


async def balance(client: httpx.AsyncClient, *, seller: LoggedIn) -> Json:
    """The seller's USD balance as {pending, available, debt, in_transit, reserved} in minor
    units (the platform's currency: the balance object's own fields)."""
    usd_balance = json_ok(await client.get(BALANCE, headers=seller.headers))
    assert usd_balance["currency"] == "USD"
    amounts: Json = {}
    for field in ("pending", "available", "debt", "in_transit", "reserved"):
        assert usd_balance[field]["currency"] == "USD"
        amounts[field] = usd_balance[field]["amount"]
    return amounts


def amounts(
    *, pending: int = 0, available: int = 0, debt: int = 0, in_transit: int = 0, reserved: int = 0
) -> Json:
    return {
        "pending": pending,
        "available": available,
        "debt": debt,
        "in_transit": in_transit,
        "reserved": reserved,
    }


async def seller_ledger(client: httpx.AsyncClient, *, seller: LoggedIn) -> list[Json]:
    response = await client.get(LEDGER, params={"limit": 100}, headers=seller.headers)
    items: list[Json] = json_ok(response)["items"]
    return items


async def post_payout(
    client: httpx.AsyncClient, *, seller: LoggedIn, amount: int, key: str | None = None
) -> httpx.Response:
    return await client.post(
        PAYOUTS,
        json={"amount": usd(amount)},
        headers={**seller.headers, "Idempotency-Key": key or new_key()},
    )


async def payouts(client: httpx.AsyncClient, *, seller: LoggedIn) -> list[Json]:
    items: list[Json] = json_ok(await client.get(PAYOUTS, headers=seller.headers))["items"]
    return items


async def reconcile(client: httpx.AsyncClient, *, admin: LoggedIn) -> Json:
    report: Json = json_ok(await client.get(RECONCILE, headers=admin.headers))
    return report


async def reconcile_ok(client: httpx.AsyncClient, *, admin: LoggedIn) -> None:
    """The ledger reconciles: every invariant holds, nothing is listed as violated."""
    report = await reconcile(client, admin=admin)
    assert report["violations"] == []
    assert report["ok"] is True
    assert parse_time(report["checked_at"])


async def escrow_of(session: AsyncSession, *, order_id: str) -> int:
    return await ledger.balance(session, Account.escrow, "USD", order_id=uuid.UUID(order_id))


async def platform_revenue(session: AsyncSession) -> int:
    return await ledger.balance(session, Account.platform_commission, "USD")


async def provider_book(session: AsyncSession) -> list[tuple[str, int, bool]]:
    """The sandbox provider's operations as (kind, amount, succeeded), oldest first."""
    rows = await session.execute(
        select(
            ProviderOperation.kind, ProviderOperation.amount, ProviderOperation.succeeded
        ).order_by(ProviderOperation.created_at, ProviderOperation.id)
    )
    return [(kind.value, amount, succeeded) for kind, amount, succeeded in rows]


async def ledger_kinds(session: AsyncSession) -> list[str]:
    """The kinds of every ledger transaction, oldest first."""
    rows = await session.scalars(select(LedgerTransaction.kind).order_by(LedgerTransaction.id))
    return list(rows)
