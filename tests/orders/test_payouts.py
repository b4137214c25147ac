"""A seller's money: balance, ledger entries and payouts settled by the worker."""

import csv
import io
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import LoggedIn, register_and_login, relogin
from tests.factories.api import assert_problem, json_ok, new_key, parse_time, usd
from tests.factories.catalog import listing_for_sale
from tests.factories.orders import (
    Market,
    add_to_cart,
    checkout,
    confirm,
    market,
    paid_order,
    pay,
    relogin_market,
    ship,
)
from tests.factories.payments import (
    BALANCE,
    LEDGER,
    PAYOUTS,
    amounts,
    balance,
    escrow_of,
    ledger_kinds,
    payouts,
    platform_revenue,
    post_payout,
    provider_book,
    reconcile_ok,
    seller_ledger,
)
from tests.factories.sellers import FAILING_ACCOUNT, GOOD_IBAN, approved_seller, seller_application
from tests.factories.worker import sweep


async def _seller_with_proceeds(
    client: httpx.AsyncClient, session: AsyncSession, payout_account: str | None = None
) -> tuple[Market, str]:
    """A market whose seller completed one order of 1000 + 500 shipping: 1350 available
    after the 10 % commission of 150. Returns it and the order id."""
    m = (
        await market(client, session)
        if payout_account is None
        else await market(client, session, payout_account=payout_account)
    )
    _, order = await paid_order(client, market=m, price=1000, shipping=500)
    await ship(client, who=m.seller, order_id=order["id"])
    await confirm(client, who=m.buyer, order_id=order["id"])
    assert await balance(client, seller=m.seller) == amounts(available=1350)
    return m, order["id"]


async def test_a_new_sellers_balance_is_zero_in_the_platform_currency(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)

    response = await client.get(BALANCE, headers=m.seller.headers)

    assert response.status_code == 200, response.text
    zero = {"amount": 0, "currency": "USD"}
    usd_balance = {
        "currency": "USD",
        "pending": zero,
        "available": zero,
        "debt": zero,
        "in_transit": zero,
        "reserved": zero,
    }
    # An object (issue 15; it was a list of one per currency), the list under `by_currency`.
    assert response.json() == {
        **usd_balance,
        "by_currency": [usd_balance],
        "allowed_actions": [],
        "actions": [],
    }
    assert await seller_ledger(client, seller=m.seller) == []
    assert await payouts(client, seller=m.seller) == []


async def test_a_payout_needs_an_idempotency_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _ = await _seller_with_proceeds(client, session)

    response = await client.post(PAYOUTS, json={"amount": usd(100)}, headers=m.seller.headers)

    assert_problem(response, 400, "idempotency_key_required")
    assert await balance(client, seller=m.seller) == amounts(available=1350)
    assert await payouts(client, seller=m.seller) == []


@pytest.mark.parametrize(("earned", "requested"), [(False, 1), (True, 1351)])
async def test_a_payout_over_the_available_balance_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, earned: bool, requested: int
) -> None:
    if earned:
        m, _ = await _seller_with_proceeds(client, session)
    else:
        m = await market(client, session)
    before = await balance(client, seller=m.seller)

    response = await post_payout(client, seller=m.seller, amount=requested)

    assert_problem(response, 409, "insufficient_balance")
    assert await balance(client, seller=m.seller) == before
    assert await payouts(client, seller=m.seller) == []
    await reconcile_ok(client, admin=m.admin)


@pytest.mark.parametrize(
    ("amount", "code"),
    [(usd(0), "validation_error"), ({"amount": 100, "currency": "EUR"}, "currency_not_supported")],
)
async def test_a_payout_must_be_positive_and_in_the_platform_currency(
    client: httpx.AsyncClient, session: AsyncSession, amount: dict[str, object], code: str
) -> None:
    m, _ = await _seller_with_proceeds(client, session)

    response = await client.post(
        PAYOUTS, json={"amount": amount}, headers={**m.seller.headers, "Idempotency-Key": new_key()}
    )

    assert_problem(response, 422, code)
    assert await balance(client, seller=m.seller) == amounts(available=1350)


async def test_the_spec_says_a_payout_is_positive_and_in_the_platform_currency(
    client: httpx.AsyncClient,
) -> None:
    """Found by the fuzzer: a payout of 0 was schema-valid (Money allows 0) but refused."""
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    assert schemas["PayoutCreate"]["properties"]["amount"] == {
        "$ref": "#/components/schemas/PositiveMoney"
    }
    amount = schemas["PositiveMoney"]["properties"]["amount"]
    assert (amount["minimum"], amount["format"]) == (1, "int64")
    assert schemas["PositiveMoney"]["properties"]["currency"]["enum"] == ["USD"]


async def test_a_payout_moves_money_into_transit_and_the_sweep_pays_it(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m, order_id = await _seller_with_proceeds(client, session)

    payout = json_ok(await post_payout(client, seller=m.seller, amount=1000), 201)
    assert payout["amount"] == {"amount": 1000, "currency": "USD"}
    assert (payout["status"], payout["failure_reason"], payout["settled_at"]) == (
        "pending",
        None,
        None,
    )
    assert await balance(client, seller=m.seller) == amounts(available=350, in_transit=1000)
    assert await payouts(client, seller=m.seller) == [payout]
    await reconcile_ok(client, admin=m.admin)

    done = await sweep(database, settings)

    assert done["settle_payouts"] == 1
    (settled,) = await payouts(client, seller=m.seller)
    assert settled["id"] == payout["id"]
    assert (settled["status"], settled["failure_reason"]) == ("paid", None)
    assert parse_time(settled["settled_at"]) >= parse_time(settled["created_at"])
    assert await balance(client, seller=m.seller) == amounts(available=350)
    assert await provider_book(session) == [
        ("capture", 1500, True),
        ("payout", 1000, True),
    ]
    assert await ledger_kinds(session) == [
        "payment",
        "completion",
        "payout_requested",
        "payout_paid",
    ]
    # The seller's ledger, newest first, with signed amounts per account.
    entries = await seller_ledger(client, seller=m.seller)
    newest = entries[0]
    assert (newest["account"], newest["amount"]["amount"]) == ("payouts_in_transit", -1000)
    assert sorted((e["account"], e["amount"]["amount"]) for e in entries) == [
        ("payouts_in_transit", -1000),
        ("payouts_in_transit", 1000),
        ("seller_available", -1000),
        ("seller_available", 1350),
    ]
    assert all(e["amount"]["currency"] == "USD" for e in entries)
    earned = entries[-1]
    assert (earned["account"], earned["amount"]["amount"], earned["order_id"]) == (
        "seller_available",
        1350,
        order_id,
    )
    assert len({e["transaction_id"] for e in entries}) == 3
    # Nothing more to settle.
    assert (await sweep(database, settings))["settle_payouts"] == 0
    await reconcile_ok(client, admin=m.admin)


async def test_a_refused_transfer_fails_the_payout_and_returns_the_money(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m, _ = await _seller_with_proceeds(client, session, payout_account=FAILING_ACCOUNT)
    created = await post_payout(client, seller=m.seller, amount=1350)
    assert created.status_code == 201, created.text
    assert await balance(client, seller=m.seller) == amounts(in_transit=1350)

    done = await sweep(database, settings)

    assert done["settle_payouts"] == 1
    (failed,) = await payouts(client, seller=m.seller)
    assert failed["status"] == "failed"
    assert failed["failure_reason"]
    assert failed["settled_at"] is not None
    assert await balance(client, seller=m.seller) == amounts(available=1350)
    assert await provider_book(session) == [("capture", 1500, True), ("payout", 1350, False)]
    assert await ledger_kinds(session) == [
        "payment",
        "completion",
        "payout_requested",
        "payout_failed",
    ]
    await reconcile_ok(client, admin=m.admin)

    # The money can be requested again (after fixing the account, it would be paid).
    again = await post_payout(client, seller=m.seller, amount=1350)
    assert again.status_code == 201, again.text
    assert await balance(client, seller=m.seller) == amounts(in_transit=1350)
    await reconcile_ok(client, admin=m.admin)


async def test_a_payout_request_is_idempotent(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _ = await _seller_with_proceeds(client, session)
    key = new_key()

    first = await post_payout(client, seller=m.seller, amount=600, key=key)
    again = await post_payout(client, seller=m.seller, amount=600, key=key)
    other = await post_payout(client, seller=m.seller, amount=700, key=key)

    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert_problem(other, 422, "idempotency_key_reused")
    assert await balance(client, seller=m.seller) == amounts(available=750, in_transit=600)
    assert len(await payouts(client, seller=m.seller)) == 1
    # A second payout with its own key may not spend more than what is left.
    assert_problem(
        await post_payout(client, seller=m.seller, amount=751), 409, "insufficient_balance"
    )
    assert (await post_payout(client, seller=m.seller, amount=750)).status_code == 201
    assert await balance(client, seller=m.seller) == amounts(in_transit=1350)
    await reconcile_ok(client, admin=m.admin)


async def _applicant(client: httpx.AsyncClient) -> LoggedIn:
    """A user whose shop application is still waiting for review."""
    user = await register_and_login(client)
    applied = await client.post(
        "/v1/sellers", json=seller_application(payout_account=GOOD_IBAN), headers=user.headers
    )
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "pending_review"
    return user


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", BALANCE), ("GET", LEDGER), ("GET", PAYOUTS), ("POST", PAYOUTS)],
)
async def test_a_buyer_without_a_shop_has_no_money_endpoints(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    user = await register_and_login(client)
    headers = {**user.headers, "Idempotency-Key": new_key()}

    response = await client.request(
        method, path, headers=headers, json={"amount": usd(1)} if method == "POST" else None
    )

    assert_problem(response, 403, "seller_required")


async def test_an_applicant_not_yet_approved_cannot_request_a_payout(
    client: httpx.AsyncClient,
) -> None:
    applicant = await _applicant(client)

    assert_problem(await post_payout(client, seller=applicant, amount=1), 403, "seller_required")
    assert await balance(client, seller=applicant) == amounts()


async def test_end_to_end_two_sellers_one_cart_to_payouts(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """Two sellers' items in one cart → checkout → two orders → pay → ship → one confirmed,
    one auto-completed by the worker → balances right to the cent → payouts → paid."""
    m = await market(client, session)
    other, other_id = await approved_seller(client, session, admin=m.admin)
    camera = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=12345, shipping=655
    )
    strap = await listing_for_sale(
        client, seller=m.seller, category_id=m.category_id, price=995, shipping=0
    )
    lens = await listing_for_sale(
        client, seller=other, category_id=m.category_id, price=20001, shipping=999
    )
    await add_to_cart(client, who=m.buyer, listing_id=camera["id"], quantity=1)
    await add_to_cart(client, who=m.buyer, listing_id=strap["id"], quantity=3)
    await add_to_cart(client, who=m.buyer, listing_id=lens["id"], quantity=1)

    created = await checkout(client, who=m.buyer)
    paid = await pay(client, who=m.buyer, checkout_id=created["id"])

    orders = {o["seller_id"]: o for o in paid["orders"]}
    mine, theirs = orders[m.seller_id], orders[other_id]
    assert mine["total"]["amount"] == 12345 + 3 * 995 + 655 == 15985
    assert theirs["total"]["amount"] == 20001 + 999 == 21000
    assert paid["total"]["amount"] == 36985
    assert await provider_book(session) == [("capture", 36985, True)]
    assert await escrow_of(session, order_id=mine["id"]) == 15985
    assert await escrow_of(session, order_id=theirs["id"]) == 21000

    await ship(client, who=m.seller, order_id=mine["id"])
    await ship(client, who=other, order_id=theirs["id"])
    await confirm(client, who=m.buyer, order_id=mine["id"])
    mine_commission = 1599  # 10 % of 15985 is 1598.5, rounded half up
    assert await balance(client, seller=m.seller) == amounts(available=15985 - mine_commission)
    assert await balance(client, seller=other) == amounts()
    await reconcile_ok(client, admin=m.admin)

    clock.advance(settings.auto_complete_after + timedelta(seconds=1))
    assert (await sweep(database, settings))["auto_complete_orders"] == 1
    seller, other = await relogin(client, who=m.seller), await relogin(client, who=other)
    admin = await relogin(client, who=m.admin)
    theirs_commission = 2100
    assert await balance(client, seller=seller) == amounts(available=14386)
    assert await balance(client, seller=other) == amounts(available=21000 - theirs_commission)
    assert await platform_revenue(session) == mine_commission + theirs_commission == 3699
    await reconcile_ok(client, admin=admin)

    assert (await post_payout(client, seller=seller, amount=14386)).status_code == 201
    assert (await post_payout(client, seller=other, amount=18900)).status_code == 201
    assert (await sweep(database, settings))["settle_payouts"] == 2

    for who in (seller, other):
        (payout,) = await payouts(client, seller=who)
        assert payout["status"] == "paid"
        assert await balance(client, seller=who) == amounts()
    assert await provider_book(session) == [
        ("capture", 36985, True),
        ("payout", 14386, True),
        ("payout", 18900, True),
    ]
    await reconcile_ok(client, admin=admin)


@pytest.mark.parametrize("caller", ["buyer", "seller"])
async def test_only_admins_may_reconcile_the_ledger(
    client: httpx.AsyncClient, session: AsyncSession, caller: str
) -> None:
    m = await market(client, session)
    who = m.buyer if caller == "buyer" else m.seller

    response = await client.get("/v1/admin/ledger/reconcile", headers=who.headers)

    assert_problem(response, 403, "admin_required")
    await reconcile_ok(client, admin=m.admin)


# --- issue 15: what the money screens need -----------------------------------------------------

LEDGER_CSV = f"{LEDGER}.csv"


async def _paid_out(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> tuple[Market, str, str]:
    """A seller with one completed order (1350 after commission) and a settled payout of
    1000: (market, order id, payout id)."""
    m, order_id = await _seller_with_proceeds(client, session)
    payout = json_ok(await post_payout(client, seller=m.seller, amount=1000), 201)
    assert (await sweep(database, settings))["settle_payouts"] == 1
    return m, order_id, payout["id"]


async def test_the_balance_card_offers_a_payout_when_money_is_available(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _ = await _seller_with_proceeds(client, session)

    card = json_ok(await client.get(BALANCE, headers=m.seller.headers))

    assert card["currency"] == "USD"
    assert card["available"] == {"amount": 1350, "currency": "USD"}
    assert [b["currency"] for b in card["by_currency"]] == ["USD"]
    assert card["by_currency"][0]["available"] == card["available"]
    assert card["allowed_actions"] == ["request_payout"]
    assert card["actions"] == [{"name": "request_payout", "deadline": None}]


async def test_each_ledger_entry_says_what_it_is_and_what_it_belongs_to(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m, order_id, payout_id = await _paid_out(client, session, database, settings)
    m = await relogin_market(client, market=m)

    entries = await seller_ledger(client, seller=m.seller)

    assert [(e["entry_type"], e["account"], e["amount"]["amount"]) for e in entries] == [
        ("payout_paid", "payouts_in_transit", -1000),
        ("payout", "payouts_in_transit", 1000),
        ("payout", "seller_available", -1000),
        ("sale", "seller_available", 1350),
    ]
    sale = entries[-1]
    assert sale["order_id"] == order_id
    assert sale["payout_id"] is None
    assert sale["gross"] == {"amount": 1500, "currency": "USD"}
    assert sale["commission"] == {"amount": 150, "currency": "USD"}
    assert sale["description"] == "Sale: 15.00 USD, less 1.50 USD commission"
    for entry in entries[:-1]:
        assert entry["payout_id"] == payout_id
        assert (entry["gross"], entry["commission"]) == (None, None)
        assert entry["description"]
    assert entries[0]["description"] == "Payout sent to your bank account"


async def test_the_ledger_filters_by_type_order_payout_and_time(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m, order_id, payout_id = await _paid_out(client, session, database, settings)
    m = await relogin_market(client, market=m)

    async def listed(**params: object) -> list[tuple[str, int]]:
        page = json_ok(await client.get(LEDGER, params=params, headers=m.seller.headers))
        return [(e["entry_type"], e["amount"]["amount"]) for e in page["items"]]

    assert await listed(entry_type="sale") == [("sale", 1350)]
    assert await listed(entry_type=["payout", "payout_paid"]) == [
        ("payout_paid", -1000),
        ("payout", 1000),
        ("payout", -1000),
    ]
    assert await listed(order_id=order_id) == [("sale", 1350)]
    assert len(await listed(payout_id=payout_id)) == 3
    sale_time = parse_time((await seller_ledger(client, seller=m.seller))[-1]["created_at"])
    after_sale = (sale_time + timedelta(microseconds=1)).isoformat()
    assert ("sale", 1350) not in await listed(created_after=after_sale)
    assert await listed(created_before=after_sale) == [("sale", 1350)]
    assert await listed(created_after=sale_time.isoformat(), entry_type="sale") == [("sale", 1350)]

    for bad in ({"entry_type": "gift"}, {"created_after": "2026-01-01T00:00:00"}, {"sort": "x"}):
        assert_problem(
            await client.get(LEDGER, params=bad, headers=m.seller.headers),
            422,
            "validation_error",
        )


@pytest.mark.parametrize("path", [LEDGER, LEDGER_CSV])
@pytest.mark.parametrize("moment", ["0.5", "1796646380", "2026-12-07", "2026-12-07T10:00:00"])
async def test_the_ledger_takes_only_rfc_3339_moments_with_an_offset(
    client: httpx.AsyncClient, session: AsyncSession, path: str, moment: str
) -> None:
    """A number (a Unix time to the date parser), a bare date or a local time is refused
    rather than read as some moment the seller did not mean (the fuzzer's finding)."""
    m = await market(client, session)
    response = await client.get(path, params={"created_before": moment}, headers=m.seller.headers)
    assert_problem(response, 422, "validation_error")


async def test_the_ledger_exports_as_csv_with_the_same_filters(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m, order_id, payout_id = await _paid_out(client, session, database, settings)
    m = await relogin_market(client, market=m)

    response = await client.get(LEDGER_CSV, headers=m.seller.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    entries = await seller_ledger(client, seller=m.seller)
    assert [r["entry_id"] for r in rows] == [e["id"] for e in entries]
    assert [(r["entry_type"], r["amount"], r["amount_minor"]) for r in rows] == [
        ("payout_paid", "-10.00", "-1000"),
        ("payout", "10.00", "1000"),
        ("payout", "-10.00", "-1000"),
        ("sale", "13.50", "1350"),
    ]
    assert rows[-1]["order_id"] == order_id
    assert rows[-1]["description"] == "Sale: 15.00 USD, less 1.50 USD commission"
    assert {r["payout_id"] for r in rows[:-1]} == {payout_id}

    only_sales = await client.get(
        LEDGER_CSV, params={"entry_type": "sale"}, headers=m.seller.headers
    )
    assert [r["entry_type"] for r in csv.DictReader(io.StringIO(only_sales.text))] == ["sale"]
    assert_problem(
        await client.get(LEDGER_CSV, params={"q": "x"}, headers=m.seller.headers),
        422,
        "validation_error",
    )
    assert_problem(await client.get(LEDGER_CSV), 401, "invalid_token")


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@a", "'@a"),
        ("ok", "ok"),
    ],
)
def test_a_csv_text_cell_never_starts_a_formula(text: str, written: str) -> None:
    from app.payments.views import _cell

    assert _cell(text) == written


async def test_an_insufficient_balance_shows_the_amounts_as_money(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _ = await _seller_with_proceeds(client, session)

    problem = assert_problem(
        await post_payout(client, seller=m.seller, amount=2000), 409, "insufficient_balance"
    )

    assert problem["available"] == {"amount": 1350, "currency": "USD"}
    assert problem["requested"] == {"amount": 2000, "currency": "USD"}
    assert problem["debt"] == {"amount": 0, "currency": "USD"}
    assert problem["detail"] == "available: 13.50 USD, requested: 20.00 USD"


async def test_a_payout_is_read_by_its_id_by_its_seller_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m, _ = await _seller_with_proceeds(client, session)
    payout = json_ok(await post_payout(client, seller=m.seller, amount=1000), 201)
    other, _other_id = await approved_seller(client, session, admin=m.admin)

    mine = json_ok(await client.get(f"{PAYOUTS}/{payout['id']}", headers=m.seller.headers))

    assert mine == payout
    assert_problem(
        await client.get(f"{PAYOUTS}/{payout['id']}", headers=other.headers), 404, "not_found"
    )
