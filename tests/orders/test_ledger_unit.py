"""Unit tests of the ledger's rules (every transaction balances per currency; seller accounts,
and only they, have an owner and a running balance) and of the commission arithmetic."""

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.fees.commission import CommissionTerms
from app.payments import ledger
from app.payments.ledger import Leg, MisownedLeg, UnbalancedTransaction
from app.payments.models import Account, AccountBalance, LedgerEntry, LedgerTransaction


async def _counts(session: AsyncSession) -> tuple[int, int]:
    transactions = await session.scalar(select(func.count()).select_from(LedgerTransaction))
    entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
    return int(transactions or 0), int(entries or 0)


async def test_a_balanced_transaction_is_recorded_with_its_entries(
    session: AsyncSession,
) -> None:
    order_id, seller_id = uuid.uuid4(), uuid.uuid4()

    transaction = await ledger.post(
        session,
        "completion",
        [
            Leg(Account.escrow, -1000, "USD", order_id=order_id),
            Leg(Account.seller_available, 900, "USD", owner_id=seller_id, order_id=order_id),
            Leg(Account.platform_commission, 100, "USD", order_id=order_id),
        ],
        order_id=order_id,
        memo="unit",
    )

    assert (transaction.kind, transaction.order_id, transaction.memo) == (
        "completion",
        order_id,
        "unit",
    )
    rows = (
        await session.execute(
            select(LedgerEntry.account, LedgerEntry.amount, LedgerEntry.owner_id)
            .where(LedgerEntry.transaction_id == transaction.id)
            .order_by(LedgerEntry.amount)
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        (Account.escrow, -1000, None),
        (Account.platform_commission, 100, None),
        (Account.seller_available, 900, seller_id),
    ]
    assert await ledger.balance(session, Account.escrow, "USD", order_id=order_id) == -1000
    assert (
        await ledger.balance(
            session, Account.seller_available, "USD", owner_id=seller_id, order_id=order_id
        )
        == 900
    )
    # The seller's whole book in that currency has a running balance, zero where nothing moved.
    assert await ledger.owner_balances(session, seller_id) == {
        ("USD", Account.seller_pending): 0,
        ("USD", Account.seller_available): 900,
        ("USD", Account.seller_reserved): 0,
        ("USD", Account.payouts_in_transit): 0,
    }


@pytest.mark.parametrize(
    "legs",
    [
        [Leg(Account.external, -1000, "USD"), Leg(Account.escrow, 999, "USD")],
        [Leg(Account.escrow, 1, "USD")],
        # Balanced in sum, but money cannot turn from dollars into euros.
        [Leg(Account.external, -500, "USD"), Leg(Account.escrow, 500, "EUR")],
        [
            Leg(Account.external, -500, "USD"),
            Leg(Account.escrow, 500, "USD"),
            Leg(Account.external, -300, "EUR"),
            Leg(Account.escrow, 299, "EUR"),
        ],
        [],
    ],
    ids=["off-by-one", "one-leg", "cross-currency", "one-currency-off", "empty"],
)
async def test_an_unbalanced_or_empty_transaction_is_refused(
    session: AsyncSession, legs: list[Leg]
) -> None:
    with pytest.raises(UnbalancedTransaction):
        await ledger.post(session, "payment", legs)

    assert await _counts(session) == (0, 0)


async def test_a_transaction_in_several_currencies_each_balanced_is_accepted(
    session: AsyncSession,
) -> None:
    order_id = uuid.uuid4()

    await ledger.post(
        session,
        "payment",
        [
            Leg(Account.external, -1200, "USD"),
            Leg(Account.escrow, 1200, "USD", order_id=order_id),
            Leg(Account.external, -800, "EUR"),
            Leg(Account.escrow, 800, "EUR", order_id=order_id),
        ],
    )

    assert await _counts(session) == (1, 4)
    assert await ledger.balance(session, Account.escrow, "USD", order_id=order_id) == 1200
    assert await ledger.balance(session, Account.escrow, "EUR", order_id=order_id) == 800
    assert await ledger.balance(session, Account.external, "EUR") == -800


async def test_zero_legs_of_a_balanced_transaction_are_not_stored(
    session: AsyncSession,
) -> None:
    await ledger.post(
        session,
        "completion",
        [
            Leg(Account.escrow, -500, "USD"),
            Leg(Account.seller_available, 500, "USD", owner_id=uuid.uuid4()),
            Leg(Account.platform_commission, 0, "USD"),
        ],
    )

    assert await _counts(session) == (1, 2)


async def test_running_balances_follow_every_posting_and_only_seller_accounts_have_them(
    session: AsyncSession,
) -> None:
    order_id, seller_a, seller_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await ledger.post(
        session,
        "payment",
        [Leg(Account.external, -3000, "USD"), Leg(Account.escrow, 3000, "USD", order_id=order_id)],
    )
    await ledger.post(
        session,
        "completion",
        [
            Leg(Account.escrow, -3000, "USD", order_id=order_id),
            Leg(Account.seller_pending, 1700, "USD", owner_id=seller_a, order_id=order_id),
            Leg(Account.seller_available, 1000, "USD", owner_id=seller_b, order_id=order_id),
            Leg(Account.platform_commission, 300, "USD", order_id=order_id),
        ],
    )
    await ledger.post(
        session,
        "hold_released",
        [
            Leg(Account.seller_pending, -1700, "USD", owner_id=seller_a),
            Leg(Account.seller_available, 1700, "USD", owner_id=seller_a),
        ],
    )
    await ledger.post(
        session,
        "payout_requested",
        [
            Leg(Account.seller_available, -500, "USD", owner_id=seller_a),
            Leg(Account.payouts_in_transit, 500, "USD", owner_id=seller_a),
            Leg(Account.external, -40, "EUR"),
            Leg(Account.seller_available, 40, "EUR", owner_id=seller_a),
        ],
    )

    assert await ledger.owner_balances(session, seller_a) == {
        ("USD", Account.seller_pending): 0,
        ("USD", Account.seller_available): 1200,
        ("USD", Account.seller_reserved): 0,
        ("USD", Account.payouts_in_transit): 500,
        ("EUR", Account.seller_pending): 0,
        ("EUR", Account.seller_available): 40,
        ("EUR", Account.seller_reserved): 0,
        ("EUR", Account.payouts_in_transit): 0,
    }
    assert (await ledger.owner_balances(session, seller_b))["USD", Account.seller_available] == 1000
    # Escrow, external and commission are platform-wide: no running balance to contend on.
    owners = await session.scalars(select(AccountBalance.owner_id).distinct())
    assert set(owners) == {seller_a, seller_b}
    assert await ledger.lock_owner_balances(session, seller_a, "USD") == {
        Account.seller_pending: 0,
        Account.seller_available: 1200,
        Account.seller_reserved: 0,
        Account.payouts_in_transit: 500,
    }


async def test_a_new_sellers_locked_balances_are_zero(session: AsyncSession) -> None:
    assert await ledger.lock_owner_balances(session, uuid.uuid4(), "USD") == dict.fromkeys(
        [
            Account.seller_pending,
            Account.seller_available,
            Account.seller_reserved,
            Account.payouts_in_transit,
        ],
        0,
    )


@pytest.mark.parametrize(
    ("account", "owned"),
    [
        (Account.seller_available, False),
        (Account.payouts_in_transit, False),
        (Account.escrow, True),
        (Account.platform_commission, True),
    ],
)
def test_a_seller_account_needs_its_owner_and_a_platform_account_has_none(
    account: Account, owned: bool
) -> None:
    with pytest.raises(MisownedLeg):
        Leg(account, 100, "USD", owner_id=uuid.uuid4() if owned else None)


async def test_an_owners_whole_balance_is_not_summed_from_entries(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="owner_balances"):
        await ledger.balance(session, Account.seller_available, "USD", owner_id=uuid.uuid4())


@pytest.mark.parametrize(
    ("percent", "fixed", "amount", "expected"),
    [
        ("10", 0, 1005, 101),  # 100.5 rounds half up
        ("10", 0, 1004, 100),  # 100.4 rounds down
        ("10", 0, 1735, 174),  # 173.5
        ("10", 0, 4, 0),  # 0.4
        ("10", 0, 5, 1),  # 0.5
        ("10", 0, 0, 0),
        ("10", 30, 1000, 130),  # percent plus the fixed fee
        ("2.5", 0, 1010, 25),  # 25.25
        ("2.5", 0, 1020, 26),  # 25.5
        ("0", 0, 5000, 0),
        ("0", 50, 5000, 50),  # a fixed fee only
        ("10", 500, 300, 300),  # never more than the amount itself
        ("100", 0, 777, 777),
        ("100", 1, 777, 777),
    ],
)
def test_commission_is_percent_rounded_half_up_plus_fixed_capped_at_the_amount(
    percent: str, fixed: int, amount: int, expected: int
) -> None:
    terms = CommissionTerms.of_lines([(amount, Decimal(percent))], fixed)
    commission = terms.due(amount, amount)

    assert commission == expected
    assert isinstance(commission, int)


def test_the_default_commission_is_ten_percent_without_a_fixed_fee(settings: Settings) -> None:
    assert (settings.commission_percent, settings.commission_fixed) == (Decimal(10), 0)
    terms = CommissionTerms.of_lines([(1005, settings.commission_percent)], 0)
    assert terms.due(1005, 1005) == 101
    assert CommissionTerms.of_lines([(1500, settings.commission_percent)], 0).due(1500, 1500) == 150
