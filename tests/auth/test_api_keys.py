"""Seller API keys over HTTP: created (with the owner's password) and shown once, stored as a
SHA-256 hash, always expiring, announced to their owner, listed and revoked by their owner
(one by one or all at once); used as a bearer token they act for the owner's shop within their
scopes (`<resource>:read` for GET, `<resource>:write` for the rest, write includes read), never
beyond what the owner may do, never as the owner's admin or buyer self, and never on accounts,
keys, notifications, cart, checkout or admin routes."""

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.config import Settings
from app.core.clock import clock
from tests.factories.accounts import (
    DEFAULT_PASSWORD,
    LoggedIn,
    create_user,
    login,
    register_and_login,
    relogin,
)
from tests.factories.api import Json, assert_problem, json_ok, parse_time
from tests.factories.api_keys import (
    ALL_SCOPES,
    API_KEYS,
    NOT_FOR_KEYS,
    bearer,
    create_key,
    integration_of,
    post_key,
    with_key,
)
from tests.factories.catalog import (
    LISTINGS,
    draft_listing,
    listing_for_sale,
    my_listing_ids,
    read_listing,
)
from tests.factories.disputes import get_dispute, post_dispute, post_dispute_message
from tests.factories.orders import (
    ORDERS,
    Market,
    checkout,
    get_order,
    list_orders,
    market,
    paid_order,
    pay,
    post_cancel,
    post_confirm,
    post_ship,
    ship,
)
from tests.factories.payments import reconcile_ok
from tests.factories.sellers import (
    approved_seller,
    decide_ok,
    make_seller_in_state,
    seller_application,
)
from tests.factories.webhooks import (
    ENDPOINTS,
    EVENT_TYPES_PATH,
    get_endpoint,
    list_deliveries,
    patch_endpoint,
    post_endpoint,
)

MY_LISTINGS = "/v1/sellers/me/listings"

KEY_FIELDS = {
    "id",
    "name",
    "prefix",
    "scopes",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
}


def needs(scope: str) -> str:
    return f"this operation needs the {scope} scope"


# --- helpers ----------------------------------------------------------------------------------


async def list_keys(client: httpx.AsyncClient, who: LoggedIn) -> list[Json]:
    response = await client.get(API_KEYS, params={"limit": 100}, headers=who.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    items: list[Json] = page["items"]
    return items


async def get_key(client: httpx.AsyncClient, who: LoggedIn, key_id: str) -> Json:
    found: Json = json_ok(await client.get(f"{API_KEYS}/{key_id}", headers=who.headers))
    return found


async def revoke(client: httpx.AsyncClient, who: LoggedIn, key_id: str) -> httpx.Response:
    return await client.delete(f"{API_KEYS}/{key_id}", headers=who.headers)


async def stored_key(session: AsyncSession, key_id: str) -> ApiKey:
    """The row as committed by the app, not a copy cached in this session."""
    row = await session.scalar(
        select(ApiKey)
        .where(ApiKey.id == uuid.UUID(key_id))
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def error_locs(problem: dict[str, object]) -> list[object]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    return [error["loc"] for error in errors]


def public_view(created: Json) -> Json:
    """What list and get show of a key: everything of the creation answer but the key."""
    return {name: value for name, value in created.items() if name != "key"}


async def seller_order_ids(client: httpx.AsyncClient, who: LoggedIn) -> list[str]:
    response = await client.get(
        ORDERS, params={"role": "seller", "limit": 100}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def admin_and_seller(client: httpx.AsyncClient, session: AsyncSession, m: Market) -> LoggedIn:
    """An admin who also runs an approved shop (approved by another admin)."""
    user = await create_user(session, is_admin=True, display_name="Admin Seller")
    owner = await login(client, email=user.email)
    applied = await client.post(
        "/v1/sellers",
        json=seller_application(payout_account="DE89370400440532013000"),
        headers=owner.headers,
    )
    assert applied.status_code == 201, applied.text
    await decide_ok(client, admin=m.admin, seller_id=applied.json()["id"], action="approve")
    me = await client.get("/v1/me", headers=owner.headers)
    assert me.json()["roles"] == ["buyer", "seller", "admin"]
    return owner


@pytest.fixture
async def m(client: httpx.AsyncClient, session: AsyncSession) -> Market:
    return await market(client, session)


# --- creating ---------------------------------------------------------------------------------


async def test_create_shows_the_key_once_and_stores_only_its_hash(
    client: httpx.AsyncClient, session: AsyncSession, m: Market
) -> None:
    clock.freeze()
    response = await post_key(
        client,
        who=m.seller,
        body={
            "name": "warehouse sync",
            "scopes": ["orders:write", "listings:read", "orders:write"],
        },
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == KEY_FIELDS | {"key"}
    key = created["key"]
    assert key.startswith("mk_")
    assert len(key) > 40
    assert created["prefix"] == key[:11]
    assert created["name"] == "warehouse sync"
    assert created["scopes"] == ["listings:read", "orders:write"]
    assert parse_time(created["created_at"]) == clock.now()
    assert parse_time(created["expires_at"]) == clock.now() + timedelta(days=90)
    assert created["last_used_at"] is None
    assert created["revoked_at"] is None

    listed = await client.get(API_KEYS, headers=m.seller.headers)
    assert listed.status_code == 200
    assert listed.json() == {"items": [public_view(created)], "next_cursor": None}
    assert key not in listed.text
    one = await client.get(f"{API_KEYS}/{created['id']}", headers=m.seller.headers)
    assert one.status_code == 200
    assert one.json() == public_view(created)
    assert key not in one.text

    row = await stored_key(session, created["id"])
    assert row.key_hash != key
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.prefix == key[:11]
    assert row.scopes == ["listings:read", "orders:write"]
    assert str(row.user_id) == m.seller.user_id
    assert key not in (row.name, row.prefix, row.key_hash)


async def test_every_key_is_different(client: httpx.AsyncClient, m: Market) -> None:
    first = await create_key(client, who=m.seller, scopes=["orders:read"])
    second = await create_key(client, who=m.seller, scopes=["orders:read"])

    assert first["key"] != second["key"]
    assert first["id"] != second["id"]
    assert [k["id"] for k in await list_keys(client, m.seller)] == sorted(
        [first["id"], second["id"]], reverse=True
    )


async def test_create_with_expiry_and_every_scope(client: httpx.AsyncClient, m: Market) -> None:
    expires = clock.now() + timedelta(days=30)

    created = await create_key(
        client, who=m.seller, scopes=list(reversed(ALL_SCOPES)), expires_at=expires.isoformat()
    )

    assert created["scopes"] == ALL_SCOPES
    assert parse_time(created["expires_at"]) == expires


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param(
            {"name": "x", "scopes": ["listings:delete"]}, ["body", "scopes", 0], id="unknown-scope"
        ),
        pytest.param(
            {"name": "x", "scopes": ["orders"]}, ["body", "scopes", 0], id="scope-without-access"
        ),
        pytest.param(
            {"name": "x", "scopes": ["admin:write"]}, ["body", "scopes", 0], id="admin-scope"
        ),
        pytest.param({"name": "x", "scopes": []}, ["body", "scopes"], id="empty-scopes"),
        pytest.param({"name": "x"}, ["body", "scopes"], id="no-scopes"),
        pytest.param({"scopes": ["orders:read"]}, ["body", "name"], id="no-name"),
        pytest.param({"name": "", "scopes": ["orders:read"]}, ["body", "name"], id="empty-name"),
        pytest.param(
            {"name": "x" * 101, "scopes": ["orders:read"]}, ["body", "name"], id="long-name"
        ),
        pytest.param(
            {"name": "x", "scopes": ["orders:read"], "user_id": str(uuid.uuid4())},
            ["body", "user_id"],
            id="extra-field",
        ),
        pytest.param(
            {"name": "x", "scopes": ["orders:read"], "key": "mk_chosen-by-me"},
            ["body", "key"],
            id="chosen-key",
        ),
        pytest.param(
            {"name": "x", "scopes": ["orders:read"], "expires_at": "tomorrow"},
            ["body", "expires_at"],
            id="expires-at-not-a-time",
        ),
        pytest.param(
            {"name": "x", "scopes": ["notifications:read"]},
            ["body", "scopes", 0],
            id="notifications-read-is-no-scope",
        ),
        pytest.param(
            {"name": "x", "scopes": ["orders:read", "notifications:write"]},
            ["body", "scopes", 1],
            id="notifications-write-is-no-scope",
        ),
    ],
)
async def test_bad_body_is_422(
    client: httpx.AsyncClient, m: Market, body: Json, loc: list[str | int]
) -> None:
    response = await post_key(client, who=m.seller, body=body)

    problem = assert_problem(response, 422, "validation_error")
    assert loc in error_locs(problem), problem
    assert await list_keys(client, m.seller) == []


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(timedelta(seconds=-1), id="a-second-ago"),
        pytest.param(timedelta(days=-400), id="last-year"),
        pytest.param(timedelta(0), id="now"),
    ],
)
async def test_expiry_not_in_the_future_is_422(
    client: httpx.AsyncClient, m: Market, offset: timedelta
) -> None:
    clock.freeze()

    response = await post_key(
        client,
        who=m.seller,
        body={
            "name": "x",
            "scopes": ["orders:read"],
            "expires_at": (clock.now() + offset).isoformat(),
        },
    )

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"] == [{"loc": ["body", "expires_at"], "msg": "must be in the future"}]
    assert await list_keys(client, m.seller) == []


async def test_expiry_without_a_time_zone_is_422(client: httpx.AsyncClient, m: Market) -> None:
    """`2030-01-01T00:00:00` names no instant; it must be refused, not compared with an aware
    time (which raises)."""
    response = await post_key(
        client,
        who=m.seller,
        body={"name": "x", "scopes": ["orders:read"], "expires_at": "2030-01-01T00:00:00"},
    )

    problem = assert_problem(response, 422, "validation_error")
    assert error_locs(problem) == [["body", "expires_at"]]


@pytest.mark.parametrize("state", ["none", "pending_review", "rejected", "suspended"])
async def test_only_approved_sellers_create_keys(
    client: httpx.AsyncClient, m: Market, state: str
) -> None:
    user, _ = await make_seller_in_state(client, admin=m.admin, state=state)

    response = await post_key(client, who=user, body={"name": "x", "scopes": ["orders:read"]})

    assert_problem(response, 403, "seller_required")
    assert await list_keys(client, user) == []


async def test_an_admin_without_a_shop_cannot_create_keys(
    client: httpx.AsyncClient, m: Market
) -> None:
    response = await post_key(client, who=m.admin, body={"name": "x", "scopes": ["orders:read"]})

    assert_problem(response, 403, "seller_required")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", API_KEYS),
        ("GET", API_KEYS),
        ("GET", f"{API_KEYS}/{uuid.uuid4()}"),
        ("DELETE", f"{API_KEYS}/{uuid.uuid4()}"),
    ],
)
async def test_key_management_needs_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    body = {"name": "x", "scopes": ["orders:read"]} if method == "POST" else None

    response = await client.request(method, path, json=body)

    assert_problem(response, 401, "invalid_token")


async def test_at_most_twenty_active_keys(client: httpx.AsyncClient, m: Market) -> None:
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    expiring = await create_key(client, who=m.seller, scopes=["orders:read"], expires_at=soon)
    kept = [await create_key(client, who=m.seller, scopes=["orders:read"]) for _ in range(19)]

    refused = await post_key(client, who=m.seller, body={"name": "x", "scopes": ["orders:read"]})
    problem = assert_problem(refused, 409, "too_many_api_keys")
    assert problem["detail"] == "at most 20 active keys"

    # An expired key is no longer active.
    clock.advance(timedelta(hours=1, seconds=1))
    seller = await relogin(client, who=m.seller)
    await create_key(client, who=seller, scopes=["orders:read"])
    assert_problem(
        await post_key(client, who=seller, body={"name": "x", "scopes": ["orders:read"]}),
        409,
        "too_many_api_keys",
    )

    # Nor is a revoked one.
    assert (await revoke(client, seller, kept[0]["id"])).status_code == 204
    await create_key(client, who=seller, scopes=["orders:read"])
    assert len(await list_keys(client, seller)) == 22
    assert expiring["id"] in [k["id"] for k in await list_keys(client, seller)]


# --- a fresh proof of the person, expiry, notice (issue 13) -----------------------------------


async def test_a_stolen_access_token_alone_cannot_mint_a_key(
    client: httpx.AsyncClient, m: Market
) -> None:
    """Issue 13: a stolen access token became lasting access through a key. Minting one
    takes the current password, which the token's thief does not have."""
    missing = await post_key(
        client, who=m.seller, body={"name": "x", "scopes": ["orders:read"]}, password=None
    )
    problem = assert_problem(missing, 422, "validation_error")
    assert error_locs(problem) == [["body", "password"]]

    wrong = await post_key(
        client,
        who=m.seller,
        body={"name": "x", "scopes": ["orders:read"]},
        password="not-the-password",
    )

    assert_problem(wrong, 403, "wrong_password")
    assert await list_keys(client, m.seller) == []


async def test_wrong_passwords_for_keys_lock_out_like_failed_logins(
    client: httpx.AsyncClient, m: Market, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        wrong = await post_key(
            client,
            who=m.seller,
            body={"name": "x", "scopes": ["orders:read"]},
            password="guess-guess",
        )
        assert_problem(wrong, 403, "wrong_password")

    locked = await post_key(client, who=m.seller, body={"name": "x", "scopes": ["orders:read"]})
    assert_problem(locked, 429, "too_many_login_attempts")
    login_form = {"username": m.seller.email, "password": DEFAULT_PASSWORD}
    assert_problem(
        await client.post("/v1/auth/token", data=login_form), 429, "too_many_login_attempts"
    )
    assert await list_keys(client, m.seller) == []


async def test_a_right_password_for_a_key_is_no_failure(
    client: httpx.AsyncClient, m: Market, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures + 1):
        await create_key(client, who=m.seller, scopes=["orders:read"])

    # Had each confirmation counted, the email would be locked by now.
    login_form = {"username": m.seller.email, "password": DEFAULT_PASSWORD}
    assert (await client.post("/v1/auth/token", data=login_form)).status_code == 200


async def test_keys_expire_in_90_days_unless_asked_otherwise(
    client: httpx.AsyncClient, m: Market
) -> None:
    clock.freeze()
    created = await create_key(client, who=m.seller, scopes=["orders:read"])
    assert parse_time(created["expires_at"]) == clock.now() + timedelta(days=90)

    clock.advance(timedelta(days=90) - timedelta(seconds=1))
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200
    clock.advance(timedelta(seconds=1))
    assert_problem(await client.get(ORDERS, headers=bearer(created["key"])), 401, "invalid_token")


async def test_an_expiry_up_to_365_days_ahead_is_allowed_and_no_further(
    client: httpx.AsyncClient, m: Market
) -> None:
    clock.freeze()
    furthest = clock.now() + timedelta(days=365)

    created = await create_key(
        client, who=m.seller, scopes=["orders:read"], expires_at=furthest.isoformat()
    )
    assert parse_time(created["expires_at"]) == furthest

    for too_far in (furthest + timedelta(seconds=1), clock.now() + timedelta(days=3650)):
        response = await post_key(
            client,
            who=m.seller,
            body={"name": "x", "scopes": ["orders:read"], "expires_at": too_far.isoformat()},
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"] == [
            {"loc": ["body", "expires_at"], "msg": "must be at most 365 days from now"}
        ]
    assert len(await list_keys(client, m.seller)) == 1


async def test_the_owner_is_notified_of_every_new_key(client: httpx.AsyncClient, m: Market) -> None:
    created = await create_key(
        client, who=m.seller, scopes=["orders:read", "listings:write"], name="erp"
    )

    response = await client.get("/v1/notifications", headers=m.seller.headers)
    assert response.status_code == 200, response.text
    [notice] = [n for n in response.json()["items"] if n["type"] == "api_key.created"]
    assert notice["title"] == "A new API key was created: if it was not you, revoke it"
    assert notice["read_at"] is None
    assert notice["data"]["api_key_id"] == created["id"]
    assert notice["data"]["name"] == "erp"
    assert notice["data"]["prefix"] == created["prefix"]
    assert notice["data"]["scopes"] == ["listings:write", "orders:read"]
    assert parse_time(notice["data"]["expires_at"]) == parse_time(created["expires_at"])
    assert created["key"] not in response.text
    # Nobody else hears of it.
    others = await client.get("/v1/notifications", headers=m.buyer.headers)
    assert all(n["type"] != "api_key.created" for n in others.json()["items"])


async def test_a_new_key_is_no_webhook_event(client: httpx.AsyncClient, m: Market) -> None:
    """A shop's software has no business learning of the shop's other keys."""
    event_types = [
        e["type"] for e in (await client.get(EVENT_TYPES_PATH, headers=m.seller.headers)).json()
    ]
    assert "api_key.created" not in event_types
    refused = await post_endpoint(
        client, who=m.seller, url=HOOK_URL, event_types=["api_key.created"]
    )
    assert_problem(refused, 422, "validation_error")
    everything = await post_endpoint(client, who=m.seller, url=HOOK_URL, event_types=event_types)
    assert everything.status_code == 201, everything.text

    await create_key(client, who=m.seller, scopes=["orders:read"])

    assert await list_deliveries(client, who=m.seller) == []


async def test_a_password_change_lists_the_keys_that_survive_it(
    client: httpx.AsyncClient, m: Market
) -> None:
    """Keys are the shop's integrations: a password change leaves them working (and says
    which); `DELETE /v1/me/api-keys` is the one call that ends them all."""
    clock.freeze()
    revoked = await create_key(client, who=m.seller, scopes=["orders:read"], name="old")
    assert (await revoke(client, m.seller, revoked["id"])).status_code == 204
    expiring = (clock.now() + timedelta(hours=1)).isoformat()
    await create_key(
        client, who=m.seller, scopes=["orders:read"], name="short", expires_at=expiring
    )
    first = await create_key(client, who=m.seller, scopes=["orders:read"], name="erp")
    second = await create_key(client, who=m.seller, scopes=["listings:write"], name="shop sync")
    clock.advance(timedelta(hours=1))
    seller = await relogin(client, who=m.seller)

    changed = await client.patch(
        "/v1/me",
        json={"new_password": "a-brand-new-password", "current_password": DEFAULT_PASSWORD},
        headers=seller.headers,
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["active_api_keys"] == [public_view(second), public_view(first)]
    assert (await client.get(ORDERS, headers=bearer(first["key"]))).status_code == 200
    assert_problem(await client.get("/v1/me", headers=seller.headers), 401, "invalid_token")


async def test_one_call_revokes_every_key(
    client: httpx.AsyncClient, session: AsyncSession, m: Market
) -> None:
    clock.freeze()
    keys = [await create_key(client, who=m.seller, scopes=["orders:read"]) for _ in range(3)]
    assert (await revoke(client, m.seller, keys[0]["id"])).status_code == 204
    first_revoked_at = (await get_key(client, m.seller, keys[0]["id"]))["revoked_at"]
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    others = await create_key(client, who=other_seller, scopes=["orders:read"])
    clock.advance(timedelta(minutes=1))

    response = await client.delete(API_KEYS, headers=m.seller.headers)

    assert response.status_code == 204, response.text
    assert response.content == b""
    for key in keys:
        refused = await client.get(ORDERS, headers=bearer(key["key"]))
        assert_problem(refused, 401, "invalid_token")
    listed = {k["id"]: k for k in await list_keys(client, m.seller)}
    assert set(listed) == {k["id"] for k in keys}
    assert listed[keys[0]["id"]]["revoked_at"] == first_revoked_at
    assert [parse_time(listed[k["id"]]["revoked_at"]) for k in keys[1:]] == [clock.now()] * 2
    # Another shop's keys are untouched; revoking nothing is no error.
    assert (await client.get(ORDERS, headers=bearer(others["key"]))).status_code == 200
    assert (await client.delete(API_KEYS, headers=m.seller.headers)).status_code == 204


# --- using a key: scopes ----------------------------------------------------------------------


async def test_listings_write_creates_and_publishes_the_owners_listing(
    client: httpx.AsyncClient, m: Market
) -> None:
    created = await create_key(client, who=m.seller, scopes=["listings:write"])
    integration = with_key(owner=m.seller, key=created["key"])

    listing = await listing_for_sale(
        client, seller=integration, category_id=m.category_id, price=2500, quantity=3
    )

    assert listing["seller"]["id"] == m.seller_id
    assert listing["price"] == {"amount": 2500, "currency": "USD"}
    assert listing["quantity"] == 3
    assert await my_listing_ids(client, seller=m.seller) == [listing["id"]]
    as_owner = await client.get(f"{LISTINGS}/{listing['id']}", headers=m.seller.headers)
    assert as_owner.status_code == 200
    assert as_owner.json()["status"] == "active"
    assert as_owner.json()["seller"]["id"] == m.seller_id


async def test_listings_read_cannot_create_or_publish(client: httpx.AsyncClient, m: Market) -> None:
    created = await create_key(client, who=m.seller, scopes=["listings:read"])
    draft = await draft_listing(client, seller=m.seller, category_id=m.category_id)

    create = await client.post(
        LISTINGS,
        json={
            "title": "Made by a read-only key",
            "description": "Should never exist",
            "price": {"amount": 1000, "currency": "USD"},
            "quantity": 1,
            "condition": "good",
            "category_id": m.category_id,
            "shipping_fee": {"amount": 500, "currency": "USD"},
        },
        headers=bearer(created["key"]),
    )
    publish = await client.post(f"{LISTINGS}/{draft['id']}/publish", headers=bearer(created["key"]))

    assert assert_problem(create, 403, "insufficient_scope")["detail"] == needs("listings:write")
    assert assert_problem(publish, 403, "insufficient_scope")["detail"] == needs("listings:write")
    assert await my_listing_ids(client, seller=m.seller) == [draft["id"]]
    still = await client.get(f"{LISTINGS}/{draft['id']}", headers=m.seller.headers)
    assert still.json()["status"] == "draft"


async def test_orders_read_lists_the_sellers_orders_but_cannot_ship(
    client: httpx.AsyncClient, m: Market
) -> None:
    _, order = await paid_order(client, market=m)
    created = await create_key(client, who=m.seller, scopes=["orders:read"])
    integration = with_key(owner=m.seller, key=created["key"])

    assert await seller_order_ids(client, integration) == [order["id"]]
    seen = await get_order(client, who=integration, order_id=order["id"])
    assert seen["status"] == "paid"

    refused = await post_ship(client, who=integration, order_id=order["id"])

    assert assert_problem(refused, 403, "insufficient_scope")["detail"] == needs("orders:write")
    assert (await get_order(client, who=m.seller, order_id=order["id"]))["status"] == "paid"


async def test_orders_write_ships(client: httpx.AsyncClient, m: Market) -> None:
    _, order = await paid_order(client, market=m)
    created = await create_key(client, who=m.seller, scopes=["orders:write"])

    shipped = await post_ship(
        client, who=with_key(owner=m.seller, key=created["key"]), order_id=order["id"]
    )

    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert (await get_order(client, who=m.buyer, order_id=order["id"]))["status"] == "shipped"


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param(["orders:read"], 200, id="read"),
        pytest.param(["orders:write"], 200, id="write-includes-read"),
        pytest.param(["listings:write", "returns:write"], 403, id="other-resources"),
        pytest.param(["listings:read"], 403, id="other-resource-read"),
    ],
)
async def test_reading_needs_read_or_write_of_that_resource(
    client: httpx.AsyncClient, m: Market, scopes: list[str], expected: int
) -> None:
    _, order = await paid_order(client, market=m)
    created = await create_key(client, who=m.seller, scopes=scopes)

    response = await client.get(f"{ORDERS}/{order['id']}", headers=bearer(created["key"]))

    if expected == 200:
        assert response.status_code == 200, response.text
        assert response.json()["id"] == order["id"]
    else:
        assert_problem(response, 403, "insufficient_scope")
        assert response.json()["detail"] == needs("orders:read")


async def test_write_of_one_resource_does_not_write_another(
    client: httpx.AsyncClient, m: Market
) -> None:
    _, order = await paid_order(client, market=m)
    created = await create_key(client, who=m.seller, scopes=["listings:write"])

    refused = await post_ship(
        client, who=with_key(owner=m.seller, key=created["key"]), order_id=order["id"]
    )

    assert_problem(refused, 403, "insufficient_scope")
    assert (await get_order(client, who=m.seller, order_id=order["id"]))["status"] == "paid"


async def test_a_key_with_another_resources_scope_is_refused_on_a_public_read(
    client: httpx.AsyncClient, m: Market
) -> None:
    """A key is checked wherever it is presented, also where no sign-in is needed."""
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    orders_only = await create_key(client, who=m.seller, scopes=["orders:read"])
    listings_read = await create_key(client, who=m.seller, scopes=["listings:read"])

    refused = await client.get(f"{LISTINGS}/{listing['id']}", headers=bearer(orders_only["key"]))
    allowed = await client.get(f"{LISTINGS}/{listing['id']}", headers=bearer(listings_read["key"]))

    assert assert_problem(refused, 403, "insufficient_scope")["detail"] == needs("listings:read")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["id"] == listing["id"]


async def test_public_search_does_not_look_at_the_header(
    client: httpx.AsyncClient, m: Market
) -> None:
    """GET /v1/listings identifies nobody: any key (or none) reads the same public page."""
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    orders_only = await create_key(client, who=m.seller, scopes=["orders:read"])
    params = {"seller": m.seller_id}

    anonymous = await client.get(LISTINGS, params=params)
    with_other_scope = await client.get(LISTINGS, params=params, headers=bearer(orders_only["key"]))

    assert anonymous.status_code == with_other_scope.status_code == 200
    assert [item["id"] for item in with_other_scope.json()["items"]] == [listing["id"]]
    assert with_other_scope.json() == anonymous.json()


async def test_the_shop_profile_cannot_be_changed_with_a_key(
    client: httpx.AsyncClient, m: Market
) -> None:
    """The shop profile holds the payout account: no scope lets a key change it."""
    refused = await client.post(
        "/v1/me/api-keys",
        json={"name": "x", "scopes": ["shop:write"]},
        headers=m.seller.headers,
    )
    assert_problem(refused, 422, "validation_error")
    reader = await create_key(client, who=m.seller, scopes=["shop:read"])
    patched = await client.patch(
        "/v1/sellers/me",
        json={"payout_account": "DE89370400440532013000"},
        headers=bearer(reader["key"]),
    )
    assert assert_problem(patched, 403, "insufficient_scope")["detail"] == needs("shop:write")
    own = await client.get("/v1/sellers/me", headers=bearer(reader["key"]))
    assert own.status_code == 200, own.text


# --- a key never does more than its owner -----------------------------------------------------


async def test_a_suspended_sellers_key_gets_the_owners_refusal(
    client: httpx.AsyncClient, m: Market
) -> None:
    created = await create_key(client, who=m.seller, scopes=["listings:write", "orders:write"])
    integration = with_key(owner=m.seller, key=created["key"])
    draft = await draft_listing(client, seller=integration, category_id=m.category_id)

    await decide_ok(
        client,
        admin=m.admin,
        seller_id=m.seller_id,
        action="suspend",
        reason="Counterfeit goods reported",
    )

    body: Json = {
        "title": "Listed while suspended",
        "description": "Should never exist",
        "price": {"amount": 1000, "currency": "USD"},
        "quantity": 1,
        "condition": "good",
        "category_id": m.category_id,
        "shipping_fee": {"amount": 500, "currency": "USD"},
    }
    for method, path, json in [
        ("POST", LISTINGS, body),
        ("POST", f"{LISTINGS}/{draft['id']}/publish", None),
    ]:
        by_key = await client.request(method, path, json=json, headers=integration.headers)
        by_owner = await client.request(method, path, json=json, headers=m.seller.headers)
        key_problem = assert_problem(by_key, 403, "seller_suspended")
        owner_problem = assert_problem(by_owner, 403, "seller_suspended")
        assert key_problem["detail"] == owner_problem["detail"] == "Counterfeit goods reported"
    assert await my_listing_ids(client, seller=m.seller) == [draft["id"]]

    # Reinstated, the owner may sell again, and so may the key.
    await decide_ok(
        client, admin=m.admin, seller_id=m.seller_id, action="reinstate", reason="Appeal upheld"
    )
    published = await client.post(f"{LISTINGS}/{draft['id']}/publish", headers=integration.headers)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "active"


async def test_a_key_cannot_reach_orders_its_owner_did_not_sell(
    client: httpx.AsyncClient, session: AsyncSession, m: Market
) -> None:
    """The key's owner did not sell this order: it is not found, as for the owner."""
    other_seller, _ = await approved_seller(client, session, admin=m.admin)
    _, order = await paid_order(client, market=m)
    created = await create_key(client, who=other_seller, scopes=["orders:write"])

    by_key = await post_ship(
        client, who=with_key(owner=other_seller, key=created["key"]), order_id=order["id"]
    )
    by_owner = await post_ship(client, who=other_seller, order_id=order["id"])

    assert by_key.status_code == by_owner.status_code == 404
    assert by_key.json()["code"] == by_owner.json()["code"]
    assert await seller_order_ids(client, with_key(owner=other_seller, key=created["key"])) == []


# --- a key is the shop's, never its owner's admin or buyer self --------------------------------


async def bought_and_shipped(client: httpx.AsyncClient, m: Market, who: LoggedIn) -> Json:
    """An order of `who` from the market's seller, paid and shipped."""
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    created = await checkout(client, who=who, items=[{"listing_id": listing["id"], "quantity": 1}])
    (order,) = (await pay(client, who=who, checkout_id=created["id"]))["orders"]
    return await ship(client, who=m.seller, order_id=order["id"])


async def test_an_orders_key_reaches_the_shops_sales_only_not_its_admin_or_buyer_owners(
    client: httpx.AsyncClient, session: AsyncSession, m: Market
) -> None:
    """The owner is an admin, runs a shop and bought from another one. Their JWT reaches all
    three kinds of order; an `orders:write` key only the shop's sales."""
    owner = await admin_and_seller(client, session, m)
    integration = await integration_of(client, owner=owner, scopes=["orders:write"])
    own_listing = await listing_for_sale(client, seller=owner, category_id=m.category_id)
    sold = await checkout(
        client, who=m.buyer, items=[{"listing_id": own_listing["id"], "quantity": 1}]
    )
    (sale,) = (await pay(client, who=m.buyer, checkout_id=sold["id"]))["orders"]
    purchase = await bought_and_shipped(client, m, owner)
    _, foreign = await paid_order(client, market=m)  # another shop's, which an admin may cancel

    # Another shop's order: the admin's powers are not the key's.
    assert_problem(
        await client.get(f"{ORDERS}/{foreign['id']}", headers=integration.headers), 404, "not_found"
    )
    assert_problem(
        await post_cancel(client, who=integration, order_id=foreign["id"], reason="by the key"),
        404,
        "not_found",
    )
    # The owner's own purchase: the key does not buy, nor confirm what was bought.
    assert_problem(
        await client.get(f"{ORDERS}/{purchase['id']}", headers=integration.headers),
        404,
        "not_found",
    )
    assert_problem(
        await post_confirm(client, who=integration, order_id=purchase["id"]), 404, "not_found"
    )
    # The shop's sale is the key's to see and act on.
    seen = await get_order(client, who=integration, order_id=sale["id"])
    assert seen["status"] == "paid"
    assert seen["buyer_id"] == m.buyer.user_id
    # Listing, with or without asking for the buyer's side, shows the sales only.
    assert [o["id"] for o in await list_orders(client, who=integration)] == [sale["id"]]
    assert [o["id"] for o in await list_orders(client, who=integration, role="buyer")] == [
        sale["id"]
    ]
    assert [o["id"] for o in await list_orders(client, who=integration, role="seller")] == [
        sale["id"]
    ]
    # Nothing changed.
    assert (await get_order(client, who=m.seller, order_id=foreign["id"]))["status"] == "paid"
    assert (await get_order(client, who=m.seller, order_id=purchase["id"]))["status"] == "shipped"

    # The owner's JWT reaches all of it: as admin, as buyer and as seller.
    assert [o["id"] for o in await list_orders(client, who=owner)] == [purchase["id"], sale["id"]]
    assert [o["id"] for o in await list_orders(client, who=owner, role="buyer")] == [purchase["id"]]
    assert (await get_order(client, who=owner, order_id=foreign["id"]))["status"] == "paid"
    cancelled = await post_cancel(
        client, who=owner, order_id=foreign["id"], reason="cancelled by an admin"
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (await get_order(client, who=owner, order_id=purchase["id"]))["status"] == "shipped"
    confirmed = await post_confirm(client, who=owner, order_id=purchase["id"])
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "completed"
    await reconcile_ok(client, admin=m.admin)


async def test_a_listings_key_does_not_see_other_shops_drafts_as_its_admin_owner_does(
    client: httpx.AsyncClient, session: AsyncSession, m: Market
) -> None:
    owner = await admin_and_seller(client, session, m)
    reader = await integration_of(client, owner=owner, scopes=["listings:read"])
    theirs = await draft_listing(client, seller=m.seller, category_id=m.category_id)
    mine = await draft_listing(client, seller=owner, category_id=m.category_id)

    assert_problem(
        await client.get(f"{LISTINGS}/{theirs['id']}", headers=reader.headers), 404, "not_found"
    )
    assert (await read_listing(client, who=reader, listing_id=mine["id"]))["status"] == "draft"
    as_admin = await read_listing(client, who=owner, listing_id=theirs["id"])
    assert as_admin["status"] == "draft"
    assert as_admin["seller"]["id"] == m.seller_id


async def test_a_disputes_key_reads_no_dispute_as_its_admin_or_buyer_owner(
    client: httpx.AsyncClient, session: AsyncSession, m: Market
) -> None:
    """Another shop's dispute (the owner is an admin) and the owner's own as a buyer: neither
    is the shop's, so a `disputes:write` key finds neither."""
    owner = await admin_and_seller(client, session, m)
    integration = await integration_of(client, owner=owner, scopes=["disputes:write"])
    foreign_order = await bought_and_shipped(client, m, m.buyer)
    own_order = await bought_and_shipped(client, m, owner)
    disputes = []
    for who, order in ((m.buyer, foreign_order), (owner, own_order)):
        disputes.append(json_ok(await post_dispute(client, who=who, order_id=order["id"]), 201))

    for dispute in disputes:
        assert_problem(
            await get_dispute(client, who=integration, dispute_id=dispute["id"]), 404, "not_found"
        )
        written = await post_dispute_message(
            client, who=integration, dispute_id=dispute["id"], body="from the key"
        )
        assert_problem(written, 404, "not_found")
        by_owner = await get_dispute(client, who=owner, dispute_id=dispute["id"])
        assert by_owner.status_code == 200, by_owner.text
        assert by_owner.json()["status"] == "open"
        assert by_owner.json()["messages"] == dispute["messages"]


# --- notifications are the person's, not the shop's -------------------------------------------


@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param(ALL_SCOPES, id="every-scope"),
        pytest.param(["messages:read"], id="messages-read"),
        pytest.param(["orders:write"], id="orders-write"),
    ],
)
async def test_notifications_are_closed_to_every_key(
    client: httpx.AsyncClient, m: Market, scopes: list[str]
) -> None:
    """An owner's inbox (purchases, admin notices) is no shop integration's business; no
    scope opens it, and `notifications:*` are not scopes any more (see test_bad_body_is_422)."""
    await paid_order(client, market=m)  # "order.created" and "order.paid" for the seller
    created = await create_key(client, who=m.seller, scopes=scopes)
    before = await client.get("/v1/notifications", headers=m.seller.headers)
    assert before.status_code == 200, before.text
    unread = [n for n in before.json()["items"] if n["read_at"] is None]
    assert unread

    for method, path in [
        ("GET", "/v1/notifications"),
        ("GET", "/v1/notifications/summary"),
        ("POST", "/v1/notifications/read-all"),
        ("POST", f"/v1/notifications/{unread[0]['id']}/read"),
    ]:
        response = await client.request(method, path, headers=bearer(created["key"]))
        assert assert_problem(response, 403, "insufficient_scope")["detail"] == NOT_FOR_KEYS

    after = await client.get("/v1/notifications", headers=m.seller.headers)
    assert after.json() == before.json()  # nothing was marked read


# --- webhooks subscribed with a key -----------------------------------------------------------

HOOK_URL = "https://shop.example.com/hooks"


async def test_a_key_subscribes_only_to_events_whose_resource_it_may_read(
    client: httpx.AsyncClient, m: Market
) -> None:
    """Webhooks are no way around a key's scopes: each event type needs `<resource>:read`
    (or `write`) of what the event carries."""
    hooks_only = await integration_of(client, owner=m.seller, scopes=["webhooks:write"])
    refused = await post_endpoint(client, who=hooks_only, url=HOOK_URL, event_types=["order.paid"])
    assert assert_problem(refused, 403, "insufficient_scope")["detail"] == (
        "these event types need the orders:read scope(s)"
    )
    several = await post_endpoint(
        client,
        who=hooks_only,
        url=HOOK_URL,
        event_types=["order.paid", "message.created", "dispute.opened"],
    )
    assert assert_problem(several, 403, "insufficient_scope")["detail"] == (
        "these event types need the disputes:read, messages:read, orders:read scope(s)"
    )
    assert (await client.get(ENDPOINTS, headers=m.seller.headers)).json()["items"] == []

    orders_reader = await integration_of(
        client, owner=m.seller, scopes=["webhooks:write", "orders:read"]
    )
    created = await post_endpoint(
        client, who=orders_reader, url=HOOK_URL, event_types=["order.paid", "order.shipped"]
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["event_types"] == ["order.paid", "order.shipped"]
    # `write` of a resource includes its `read`.
    orders_writer = await integration_of(
        client, owner=m.seller, scopes=["webhooks:write", "orders:write"]
    )
    other = await post_endpoint(
        client, who=orders_writer, url=HOOK_URL, event_types=["order.cancelled"]
    )
    assert other.status_code == 201, other.text

    # Adding an event type the key may not read is refused, and changes nothing.
    widened = await patch_endpoint(
        client,
        who=orders_reader,
        endpoint_id=endpoint["id"],
        event_types=["order.paid", "message.created"],
    )
    assert assert_problem(widened, 403, "insufficient_scope")["detail"] == (
        "these event types need the messages:read scope(s)"
    )
    kept = await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"])
    assert kept["event_types"] == ["order.paid", "order.shipped"]
    narrowed = await patch_endpoint(
        client, who=orders_reader, endpoint_id=endpoint["id"], event_types=["order.paid"]
    )
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["event_types"] == ["order.paid"]

    # The owner's JWT has no such limit.
    mine = await post_endpoint(
        client, who=m.seller, url=HOOK_URL, event_types=["message.created", "dispute.opened"]
    )
    assert mine.status_code == 201, mine.text
    widened = await patch_endpoint(
        client,
        who=m.seller,
        endpoint_id=endpoint["id"],
        event_types=["order.paid", "message.created"],
    )
    assert widened.status_code == 200, widened.text
    assert widened.json()["event_types"] == ["message.created", "order.paid"]


async def test_a_key_cannot_redirect_an_endpoint_to_events_it_may_not_read(
    client: httpx.AsyncClient, m: Market
) -> None:
    """Pointing an existing subscription to `message.created` at another URL hands that URL
    every message: the same as subscribing, so the same scopes are needed."""
    endpoint = (
        await post_endpoint(
            client, who=m.seller, url=HOOK_URL, event_types=["message.created", "order.paid"]
        )
    ).json()
    hooks_only = await integration_of(client, owner=m.seller, scopes=["webhooks:write"])

    moved = await patch_endpoint(
        client,
        who=hooks_only,
        endpoint_id=endpoint["id"],
        url="https://collector.example.net/hooks",
    )

    assert_problem(moved, 403, "insufficient_scope")
    assert (await get_endpoint(client, who=m.seller, endpoint_id=endpoint["id"]))["url"] == HOOK_URL


UNMAPPED_ROUTES = [
    pytest.param("GET", "/v1/me", None, id="get-me"),
    pytest.param("PATCH", "/v1/me", {"display_name": "Mallory"}, id="patch-me"),
    pytest.param("GET", API_KEYS, None, id="list-keys"),
    pytest.param(
        "POST",
        API_KEYS,
        {"name": "minted", "scopes": ["orders:read"], "password": DEFAULT_PASSWORD},
        id="mint-key",
    ),
    pytest.param("DELETE", API_KEYS, None, id="revoke-all-keys"),
    pytest.param("GET", API_KEYS + "/{key_id}", None, id="get-key"),
    pytest.param("DELETE", API_KEYS + "/{key_id}", None, id="revoke-key"),
    pytest.param("GET", "/v1/cart", None, id="cart"),
    pytest.param("PUT", "/v1/cart/items/{listing_id}", {"quantity": 1}, id="cart-put"),
    pytest.param(
        "POST",
        "/v1/checkout",
        {"items": [{"listing_id": "{listing_id}", "quantity": 1}]},
        id="checkout",
    ),
    pytest.param("GET", "/v1/checkouts/{uuid}", None, id="get-checkout"),
    pytest.param("POST", "/v1/checkouts/{uuid}/pay", {"payment_token": "tok_success"}, id="pay"),
    pytest.param("GET", "/v1/admin/users", None, id="admin-users"),
    pytest.param("PATCH", "/v1/admin/users/{user_id}", {"is_admin": True}, id="admin-grant"),
    pytest.param("GET", "/v1/admin/sellers", None, id="admin-sellers"),
    pytest.param(
        "POST", "/v1/admin/sellers/{seller_id}/suspend", {"reason": "x"}, id="admin-suspend"
    ),
    pytest.param("POST", "/v1/admin/categories", {"name": "Minted"}, id="admin-category"),
    pytest.param("GET", "/v1/admin/listings", None, id="admin-listings"),
    pytest.param("GET", "/v1/admin/ledger/reconcile", None, id="admin-reconcile"),
    pytest.param("GET", "/v1/admin/audit-log", None, id="admin-audit"),
    pytest.param("GET", "/v1/admin/disputes", None, id="admin-disputes"),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize(("method", "path", "body"), UNMAPPED_ROUTES)
async def test_accounts_keys_cart_checkout_and_admin_are_closed_to_keys(
    client: httpx.AsyncClient,
    session: AsyncSession,
    m: Market,
    method: str,
    path: str,
    body: Json | None,
) -> None:
    """Even a key with every scope, of an owner who is an admin and a seller."""
    owner = await admin_and_seller(client, session, m)
    created = await create_key(client, who=owner, scopes=ALL_SCOPES)
    listing = await listing_for_sale(client, seller=m.seller, category_id=m.category_id)
    ids = {
        "key_id": created["id"],
        "listing_id": listing["id"],
        "uuid": str(uuid.uuid4()),
        "user_id": m.buyer.user_id,
        "seller_id": m.seller_id,
    }
    headers = {**bearer(created["key"]), "Idempotency-Key": f"key-{uuid.uuid4().hex}"}

    response = await client.request(
        method, _fill(path, ids), json=_fill(body, ids), headers=headers
    )

    assert assert_problem(response, 403, "insufficient_scope")["detail"] == NOT_FOR_KEYS
    # Nothing happened: the key is the only one and not revoked, the name is unchanged,
    # nothing is in the cart, the buyer is no admin and the seller is not suspended.
    (only,) = await list_keys(client, owner)
    assert only["id"] == created["id"]
    assert only["revoked_at"] is None
    me = await client.get("/v1/me", headers=owner.headers)
    assert me.json()["display_name"] == "Admin Seller"
    assert (await client.get("/v1/cart", headers=owner.headers)).json()["groups"] == []
    users = await client.get(
        "/v1/admin/users", params={"email": m.buyer.email}, headers=owner.headers
    )
    assert [u["roles"] for u in users.json()["items"]] == [["buyer"]]
    seller = await client.get(f"/v1/admin/sellers/{m.seller_id}", headers=owner.headers)
    assert seller.json()["status"] == "approved"


async def test_the_owner_of_closed_routes_may_use_them_by_access_token(
    client: httpx.AsyncClient, session: AsyncSession, m: Market
) -> None:
    """The refusals above come from the key, not from the owner lacking rights."""
    owner = await admin_and_seller(client, session, m)
    created = await create_key(client, who=owner, scopes=ALL_SCOPES)

    for path in ("/v1/me", API_KEYS, "/v1/cart", "/v1/admin/users", "/v1/admin/audit-log"):
        by_owner = await client.get(path, headers=owner.headers)
        by_key = await client.get(path, headers=bearer(created["key"]))
        assert by_owner.status_code == 200, (path, by_owner.text)
        assert_problem(by_key, 403, "insufficient_scope")


# --- revoked, expired, unknown ----------------------------------------------------------------


async def test_a_revoked_key_is_401_and_stays_listed(client: httpx.AsyncClient, m: Market) -> None:
    created = await create_key(client, who=m.seller, scopes=["orders:read"])
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200
    clock.freeze()

    first = await revoke(client, m.seller, created["id"])

    assert first.status_code == 204
    assert first.content == b""
    refused = await client.get(ORDERS, headers=bearer(created["key"]))
    assert assert_problem(refused, 401, "invalid_token")["detail"] == "unknown or revoked API key"
    (listed,) = await list_keys(client, m.seller)
    assert listed["id"] == created["id"]
    assert parse_time(listed["revoked_at"]) == clock.now()
    assert "key" not in listed

    clock.advance(timedelta(minutes=5))
    second = await revoke(client, m.seller, created["id"])

    assert second.status_code == 204
    again = await get_key(client, m.seller, created["id"])
    assert again == listed  # the first revocation time is kept
    assert_problem(await client.get(ORDERS, headers=bearer(created["key"])), 401, "invalid_token")


async def test_revoking_one_key_leaves_the_others_working(
    client: httpx.AsyncClient, m: Market
) -> None:
    revoked = await create_key(client, who=m.seller, scopes=["orders:read"])
    kept = await create_key(client, who=m.seller, scopes=["orders:read"])

    assert (await revoke(client, m.seller, revoked["id"])).status_code == 204

    assert (await client.get(ORDERS, headers=bearer(kept["key"]))).status_code == 200
    assert (await get_key(client, m.seller, kept["id"]))["revoked_at"] is None


@pytest.mark.parametrize("caller", ["other_seller", "buyer", "admin"])
async def test_someone_elses_key_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, m: Market, caller: str
) -> None:
    created = await create_key(client, who=m.seller, scopes=["orders:read"])
    if caller == "other_seller":
        who, _ = await approved_seller(client, session, admin=m.admin)
    else:
        who = m.buyer if caller == "buyer" else m.admin

    read = await client.get(f"{API_KEYS}/{created['id']}", headers=who.headers)
    revoked = await revoke(client, who, created["id"])

    assert_problem(read, 404, "not_found")
    assert_problem(revoked, 404, "not_found")
    assert await list_keys(client, who) == []
    assert (await get_key(client, m.seller, created["id"]))["revoked_at"] is None
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200


async def test_unknown_key_id_is_404_and_a_malformed_one_422(
    client: httpx.AsyncClient, m: Market
) -> None:
    assert_problem(await revoke(client, m.seller, str(uuid.uuid4())), 404, "not_found")
    assert_problem(
        await client.get(f"{API_KEYS}/{uuid.uuid4()}", headers=m.seller.headers), 404, "not_found"
    )
    assert_problem(await revoke(client, m.seller, "not-a-uuid"), 422, "validation_error")


async def test_an_expired_key_is_401(client: httpx.AsyncClient, m: Market) -> None:
    clock.freeze()
    expires = clock.now() + timedelta(hours=1)
    created = await create_key(
        client, who=m.seller, scopes=["orders:read"], expires_at=expires.isoformat()
    )

    clock.advance(timedelta(minutes=59, seconds=59))
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200

    clock.advance(timedelta(seconds=1))
    at_expiry = await client.get(ORDERS, headers=bearer(created["key"]))
    assert assert_problem(at_expiry, 401, "invalid_token")["detail"] == "expired API key"

    clock.advance(timedelta(days=1))
    assert_problem(await client.get(ORDERS, headers=bearer(created["key"])), 401, "invalid_token")
    seller = await relogin(client, who=m.seller)
    (listed,) = await list_keys(client, seller)
    assert parse_time(listed["expires_at"]) == expires
    assert listed["revoked_at"] is None


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("mk_", id="bare-prefix"),
        pytest.param("mk_" + "A" * 43, id="made-up"),
        pytest.param("mk_not a key at all", id="garbage"),
    ],
)
async def test_an_unknown_key_is_401(client: httpx.AsyncClient, m: Market, token: str) -> None:
    await create_key(client, who=m.seller, scopes=["orders:read"])

    for path in (ORDERS, LISTINGS + f"/{uuid.uuid4()}"):
        response = await client.get(path, headers=bearer(token))
        assert assert_problem(response, 401, "invalid_token")["detail"] == (
            "unknown or revoked API key"
        )


async def test_a_tampered_key_is_401(client: httpx.AsyncClient, m: Market) -> None:
    created = await create_key(client, who=m.seller, scopes=["orders:read"])
    key: str = created["key"]
    tampered = key[:-1] + ("B" if key[-1] != "B" else "C")

    for token in (tampered, key[:-1], key + "x", created["prefix"]):
        assert_problem(await client.get(ORDERS, headers=bearer(token)), 401, "invalid_token")
    assert (await client.get(ORDERS, headers=bearer(key))).status_code == 200


# --- last_used_at -----------------------------------------------------------------------------


async def test_last_used_at_is_kept_to_the_minute(client: httpx.AsyncClient, m: Market) -> None:
    clock.freeze()
    created = await create_key(client, who=m.seller, scopes=["orders:read"])
    assert (await get_key(client, m.seller, created["id"]))["last_used_at"] is None

    clock.advance(timedelta(seconds=10))
    first_use = clock.now()
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200
    assert parse_time((await get_key(client, m.seller, created["id"]))["last_used_at"]) == first_use

    clock.advance(timedelta(seconds=59))
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200
    assert parse_time((await get_key(client, m.seller, created["id"]))["last_used_at"]) == first_use

    clock.advance(timedelta(minutes=1, seconds=30))
    later_use = clock.now()
    assert (await client.get(ORDERS, headers=bearer(created["key"]))).status_code == 200
    assert parse_time((await get_key(client, m.seller, created["id"]))["last_used_at"]) == later_use


async def test_last_used_at_of_one_key_leaves_the_others_alone(
    client: httpx.AsyncClient, m: Market
) -> None:
    used = await create_key(client, who=m.seller, scopes=["orders:read"])
    unused = await create_key(client, who=m.seller, scopes=["orders:read"])

    assert (await client.get(ORDERS, headers=bearer(used["key"]))).status_code == 200

    assert (await get_key(client, m.seller, used["id"]))["last_used_at"] is not None
    assert (await get_key(client, m.seller, unused["id"]))["last_used_at"] is None


async def test_a_key_of_a_buyer_made_seller_works_from_its_first_call(
    client: httpx.AsyncClient, m: Market
) -> None:
    """Newly approved sellers (not only those built by `market`) can use keys at once."""
    user = await register_and_login(client, display_name="Fresh Seller")
    applied = await client.post(
        "/v1/sellers",
        json=seller_application(payout_account="DE89370400440532013000"),
        headers=user.headers,
    )
    assert applied.status_code == 201, applied.text
    await decide_ok(client, admin=m.admin, seller_id=applied.json()["id"], action="approve")
    created = await create_key(client, who=user, scopes=["listings:write"])

    listing = await listing_for_sale(
        client, seller=with_key(owner=user, key=created["key"]), category_id=m.category_id
    )

    assert listing["seller"]["id"] == applied.json()["id"]
