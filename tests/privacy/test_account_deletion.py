"""DELETE /v1/me: the current password confirms it; business in progress (open orders,
unfinished returns, disputes, money the shop still holds) refuses it; a deletion signs the
user out for good, frees the email, closes the shop and anonymises the buyer's address on
the orders kept for the other party, and the admin audit log and the ledger stay whole."""

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import AuthSession
from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import DEFAULT_PASSWORD, ME, login, register_and_login, relogin
from tests.factories.api import Json, assert_problem, json_ok
from tests.factories.api_keys import ALL_SCOPES, NOT_FOR_KEYS, bearer, create_key
from tests.factories.catalog import listing_for_sale, search_ids
from tests.factories.disputes import SHIP_BACK, completed_order, post_return, return_step
from tests.factories.orders import ORDERS, get_order, list_orders, market
from tests.factories.payments import amounts, balance, post_payout, reconcile_ok
from tests.factories.privacy import (
    ANONYMISED_ADDRESS,
    FULL_ADDRESS,
    completed_order_to,
    delete_me,
    deleted,
    deletion_entries,
    order_in_status,
    refused_as_in_use,
    signed_out_for_good,
    still_works,
)
from tests.factories.sellers import storefront
from tests.factories.worker import sweep

# --- refusals that change nothing -------------------------------------------------------------


async def test_a_wrong_password_is_refused_and_changes_nothing(client: httpx.AsyncClient) -> None:
    who = await register_and_login(client)

    response = await delete_me(client, who=who, password="not-" + DEFAULT_PASSWORD)

    assert_problem(response, 403, "wrong_password")
    await still_works(client, who=who)
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="no-body"),
        pytest.param({}, id="no-password"),
        pytest.param({"password": DEFAULT_PASSWORD, "confirm": True}, id="extra-field"),
    ],
)
async def test_a_malformed_body_is_422_and_changes_nothing(
    client: httpx.AsyncClient, body: Json | None
) -> None:
    who = await register_and_login(client)

    response = await client.request("DELETE", ME, json=body, headers=who.headers)

    assert_problem(response, 422, "validation_error")
    await still_works(client, who=who)


async def test_deletion_needs_an_access_token_not_an_api_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    created = await create_key(client, who=m.seller, scopes=ALL_SCOPES)
    body = {"password": DEFAULT_PASSWORD}

    by_key = await client.request("DELETE", ME, json=body, headers=bearer(created["key"]))
    anonymous = await client.request("DELETE", ME, json=body)

    assert assert_problem(by_key, 403, "insufficient_scope")["detail"] == NOT_FOR_KEYS
    assert_problem(anonymous, 401, "invalid_token")
    await still_works(client, who=m.seller)
    json_ok(await storefront(client, seller_id=m.seller_id))


@pytest.mark.parametrize("status", ["pending_payment", "paid", "shipped", "disputed"])
@pytest.mark.parametrize("side", ["buyer", "seller"])
async def test_an_open_order_keeps_its_buyer_and_its_seller(
    client: httpx.AsyncClient, session: AsyncSession, side: str, status: str
) -> None:
    m = await market(client, session)
    order = await order_in_status(client, market=m, status=status)

    await refused_as_in_use(client, who=m.buyer if side == "buyer" else m.seller)

    kept = await get_order(client, who=m.seller, order_id=order["id"])
    assert kept["status"] == status
    assert kept["shipping_address"] == order["shipping_address"]


@pytest.mark.parametrize(
    ("steps", "status"),
    [
        pytest.param([], "requested", id="requested"),
        pytest.param(["approve"], "approved", id="approved"),
        pytest.param(["approve", "ship-back"], "shipped_back", id="shipped-back"),
    ],
)
async def test_an_unfinished_return_keeps_the_buyer(
    client: httpx.AsyncClient, session: AsyncSession, steps: list[str], status: str
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    the_return = json_ok(await post_return(client, who=m.buyer, order=order), 201)
    for step in steps:
        who, body = (m.seller, None) if step == "approve" else (m.buyer, SHIP_BACK)
        json_ok(
            await return_step(client, who=who, return_id=the_return["id"], step=step, body=body)
        )
    # The order itself is completed: the return alone is what is unfinished.
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "completed"

    await refused_as_in_use(client, who=m.buyer)

    found = json_ok(await client.get(f"/v1/returns/{the_return['id']}", headers=m.buyer.headers))
    assert found["status"] == status


# --- deletions --------------------------------------------------------------------------------


async def test_a_seller_is_refused_until_paid_out_and_past_the_buyers_return_windows(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    (line,) = order["lines"]
    assert await balance(client, seller=m.seller) == amounts(available=1350)
    await refused_as_in_use(client, who=m.seller)
    json_ok(await post_payout(client, seller=m.seller, amount=1350), 201)
    assert await balance(client, seller=m.seller) == amounts(in_transit=1350)
    await refused_as_in_use(client, who=m.seller)
    assert (await sweep(database, settings))["settle_payouts"] == 1
    assert await balance(client, seller=m.seller) == amounts()
    # Paid out, but the buyer may still return or dispute the order (a refund would come
    # out of the shop): still refused, until both windows have closed.
    assert_problem(await delete_me(client, who=m.seller), 409, "account_in_use")
    clock.advance(max(settings.return_window, settings.dispute_window) + timedelta(seconds=1))
    seller = await relogin(client, who=m.seller)
    assert line["listing_id"] in await search_ids(client, seller=m.seller_id)

    await deleted(client, who=seller)

    await signed_out_for_good(client, who=seller)
    buyer, admin = await relogin(client, who=m.buyer), await relogin(client, who=m.admin)
    kept = await get_order(client, who=buyer, order_id=order["id"])
    assert kept["status"] == "completed"
    assert (kept["total"], kept["shipping_address"]) == (order["total"], order["shipping_address"])
    assert await search_ids(client, seller=m.seller_id) == []
    assert_problem(await storefront(client, seller_id=m.seller_id), 404, "not_found")
    assert await deletion_entries(client, admin=admin, user_id=m.seller.user_id)
    await reconcile_ok(client, admin=admin)


async def test_a_deleted_buyer_is_signed_out_and_anonymised_on_the_kept_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order_to(client, market=m, address=FULL_ADDRESS)
    assert order["shipping_address"]["line2"] == "Flat 3"

    await deleted(client, who=m.buyer)

    await signed_out_for_good(client, who=m.buyer)
    read = await client.get(f"{ORDERS}/{order['id']}", headers=m.seller.headers)
    kept = json_ok(read)
    assert (kept["status"], kept["total"]) == ("completed", order["total"])
    address = kept["shipping_address"]
    assert set(address) <= set(ANONYMISED_ADDRESS)
    assert {field: address.get(field) for field in ANONYMISED_ADDRESS} == ANONYMISED_ADDRESS
    for personal in ("Grace Hopper", "1 Harbour Street", "Flat 3", "20095", "+49 40 123456"):
        assert personal not in read.text
    # The email is free again, for a new account that inherits nothing.
    again = await register_and_login(client, email=m.buyer.email)
    assert again.user_id != m.buyer.user_id
    assert await list_orders(client, who=again) == []
    assert await deletion_entries(client, admin=m.admin, user_id=m.buyer.user_id)
    await reconcile_ok(client, admin=m.admin)


async def test_a_deletion_ends_every_session_of_the_account(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Not only refused because the account is gone: each session (each device's login) is
    ended, as a password change ends them."""
    who = await register_and_login(client)
    other_device = await login(client, email=who.email)

    await deleted(client, who=who)

    for device in (who, other_device):
        await signed_out_for_good(client, who=device)
    sessions = (
        await session.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == uuid.UUID(who.user_id))
            .execution_options(populate_existing=True)
        )
    ).all()
    assert len(sessions) == 2
    assert all(s.revoked_at is not None for s in sessions)


async def test_a_deleted_sellers_shop_leaves_search_and_its_api_keys_stop_working(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await create_key(client, who=m.seller, scopes=["orders:read"])
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200
    assert await search_ids(client, seller=m.seller_id) == [listing["id"]]
    json_ok(await storefront(client, seller_id=m.seller_id))

    await deleted(client, who=m.seller)

    by_key = await client.get(ORDERS, headers=bearer(created["key"]))
    assert by_key.status_code == 401, by_key.text
    assert by_key.headers["content-type"].startswith("application/problem+json")
    assert await search_ids(client, seller=m.seller_id) == []
    assert_problem(await storefront(client, seller_id=m.seller_id), 404, "not_found")
    await signed_out_for_good(client, who=m.seller)
    assert await deletion_entries(client, admin=m.admin, user_id=m.seller.user_id)
    await reconcile_ok(client, admin=m.admin)
