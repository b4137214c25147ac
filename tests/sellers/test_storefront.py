"""Who may sell (the guard on POST /v1/listings) and the public storefront GET /v1/sellers/{id}."""

import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user
from tests.factories.api import assert_problem, json_ok, usd
from tests.factories.catalog import (
    LISTINGS,
    create_listing,
    listing_body,
    nested_leaf_category,
    publish,
)
from tests.factories.sellers import (
    ADMIN_SELLERS,
    SELLERS,
    approved_seller,
    decide_ok,
    make_seller_in_state,
    storefront,
)


@pytest.fixture
async def admin(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    return await admin_user(client, session)


@pytest.fixture
async def leaf_id(client: httpx.AsyncClient, admin: LoggedIn) -> str:
    return await nested_leaf_category(client, admin=admin)


# --- who may create listings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("none", "seller_required"),
        ("pending_review", "seller_required"),
        ("rejected", "seller_required"),
        ("suspended", "seller_suspended"),
    ],
)
async def test_only_approved_sellers_create_listings(
    client: httpx.AsyncClient, admin: LoggedIn, leaf_id: str, state: str, code: str
) -> None:
    user, _ = await make_seller_in_state(client, admin=admin, state=state)

    response = await client.post(
        LISTINGS, json=listing_body(category_id=leaf_id), headers=user.headers
    )

    assert_problem(response, 403, code)
    search = await client.get(LISTINGS, params={"category": leaf_id})
    assert search.status_code == 200, search.text
    assert search.json()["items"] == []


async def test_suspended_seller_is_told_why(
    client: httpx.AsyncClient, admin: LoggedIn, leaf_id: str
) -> None:
    user, _ = await make_seller_in_state(client, admin=admin, state="suspended")

    response = await client.post(
        LISTINGS, json=listing_body(category_id=leaf_id), headers=user.headers
    )

    problem = assert_problem(response, 403, "seller_suspended")
    assert problem["detail"] == "Chargebacks"


async def test_approved_seller_creates_a_draft(
    client: httpx.AsyncClient, admin: LoggedIn, leaf_id: str
) -> None:
    user, seller_id = await make_seller_in_state(client, admin=admin, state="approved")

    body = listing_body(category_id=leaf_id, price=usd(1000), quantity=2)
    response = await client.post(LISTINGS, json=body, headers=user.headers)

    assert response.status_code == 201, response.text
    listing = response.json()
    assert listing["status"] == "draft"
    assert listing["seller"]["id"] == seller_id
    assert listing["price"] == {"amount": 1000, "currency": "USD"}
    assert listing["quantity"] == 2
    assert listing["category_id"] == leaf_id


async def test_anonymous_cannot_create_listings(client: httpx.AsyncClient, leaf_id: str) -> None:
    response = await client.post(LISTINGS, json=listing_body(category_id=leaf_id))

    assert_problem(response, 401, "invalid_token")


async def test_reinstated_seller_may_create_again(
    client: httpx.AsyncClient, admin: LoggedIn, leaf_id: str
) -> None:
    user, seller_id = await make_seller_in_state(client, admin=admin, state="suspended")
    assert seller_id is not None
    await decide_ok(client, admin=admin, seller_id=seller_id, action="reinstate")

    response = await client.post(
        LISTINGS, json=listing_body(category_id=leaf_id), headers=user.headers
    )

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("state", ["pending_review", "rejected", "suspended"])
async def test_my_listings_for_a_non_approved_profile(
    client: httpx.AsyncClient, admin: LoggedIn, state: str
) -> None:
    """Any profile may list its own listings (a suspended shop still sees its goods)."""
    user, _ = await make_seller_in_state(client, admin=admin, state=state)

    response = await client.get(f"{SELLERS}/me/listings", headers=user.headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None, "counts": {}}


async def test_my_listings_without_a_profile_is_403(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    user, _ = await make_seller_in_state(client, admin=admin, state="none")

    response = await client.get(f"{SELLERS}/me/listings", headers=user.headers)

    assert_problem(response, 403, "seller_required")


# --- the storefront -------------------------------------------------------------------------


# Issue 15: a suspended shop's page stays readable (see below); one never approved is 404.
@pytest.mark.parametrize("state", ["pending_review", "rejected"])
async def test_storefront_of_a_shop_that_is_not_approved_is_404(
    client: httpx.AsyncClient, admin: LoggedIn, state: str
) -> None:
    user, seller_id = await make_seller_in_state(client, admin=admin, state=state)
    assert seller_id is not None
    shop_name = (await client.get(f"{ADMIN_SELLERS}/{seller_id}", headers=admin.headers)).json()[
        "shop_name"
    ]

    for caller in (None, user, admin):
        headers = caller.headers if caller else {}
        response = await client.get(f"{SELLERS}/{seller_id}", headers=headers)
        assert_problem(response, 404, "not_found")
        assert shop_name not in response.text


async def test_storefront_of_an_unknown_seller_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await storefront(client, seller_id=str(uuid.uuid4())), 404, "not_found")


async def test_storefront_with_a_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await storefront(client, seller_id="acme-shop"), 422, "validation_error")


async def test_storefront_of_an_approved_shop(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> None:
    _, seller_id = await approved_seller(
        client,
        session,
        admin=admin,
        shop_name="Lovelace Gadgets",
        description="Phones, mostly",
        country="GB",
    )
    approved_at = (await client.get(f"{ADMIN_SELLERS}/{seller_id}", headers=admin.headers)).json()[
        "approved_at"
    ]

    response = await storefront(client, seller_id=seller_id)

    assert response.status_code == 200, response.text
    shop = response.json()
    assert shop == {
        "id": seller_id,
        "shop_name": "Lovelace Gadgets",
        "slug": "lovelace-gadgets",
        "description": "Phones, mostly",
        "country": "GB",
        "seller_type": "individual",
        "joined_at": shop["joined_at"],
        "status": "active",
        "accepting_orders": True,
        "active_listing_count": 0,
        "rating": {
            "average": 0,
            "count": 0,
            "positive_share": 0,
            "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
            "last_12_months": {
                "average": 0,
                "count": 0,
                "positive_share": 0,
                "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
            },
        },
    }
    assert datetime.fromisoformat(shop["joined_at"]) == datetime.fromisoformat(approved_at)
    # Nothing private leaks onto the public page.
    for private in ("payout", "legal_name", "contact", "user_id", "status_reason"):
        assert private not in response.text


async def test_active_listing_count_counts_only_live_listings(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, leaf_id: str
) -> None:
    seller, seller_id = await approved_seller(client, session, admin=admin)
    first = await create_listing(client, seller=seller, category_id=leaf_id, title="First phone")
    await create_listing(client, seller=seller, category_id=leaf_id, title="Second phone")
    assert (await storefront(client, seller_id=seller_id)).json()["active_listing_count"] == 0

    assert (await publish(client, seller=seller, listing_id=first["id"]))["status"] == "active"

    assert (await storefront(client, seller_id=seller_id)).json()["active_listing_count"] == 1

    paused = await client.post(f"{LISTINGS}/{first['id']}/pause", headers=seller.headers)
    assert paused.status_code == 200, paused.text
    assert (await storefront(client, seller_id=seller_id)).json()["active_listing_count"] == 0


async def test_active_listing_count_is_per_shop(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, leaf_id: str
) -> None:
    seller, seller_id = await approved_seller(client, session, admin=admin)
    other, other_id = await approved_seller(client, session, admin=admin)
    for title in ("Phone one", "Phone two"):
        await publish(
            client,
            seller=seller,
            listing_id=(
                await create_listing(client, seller=seller, category_id=leaf_id, title=title)
            )["id"],
        )
    await publish(
        client,
        seller=other,
        listing_id=(await create_listing(client, seller=other, category_id=leaf_id))["id"],
    )

    assert (await storefront(client, seller_id=seller_id)).json()["active_listing_count"] == 2
    assert (await storefront(client, seller_id=other_id)).json()["active_listing_count"] == 1


async def test_a_suspended_shops_page_stays_readable_and_stops_accepting_orders(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, leaf_id: str
) -> None:
    seller, seller_id = await approved_seller(client, session, admin=admin)
    await publish(
        client,
        seller=seller,
        listing_id=(await create_listing(client, seller=seller, category_id=leaf_id))["id"],
    )
    before = (await storefront(client, seller_id=seller_id)).json()

    await decide_ok(
        client, admin=admin, seller_id=seller_id, action="suspend", reason="Investigating"
    )
    suspended = json_ok(await storefront(client, seller_id=seller_id))
    assert (suspended["status"], suspended["accepting_orders"]) == ("suspended", False)
    assert suspended["active_listing_count"] == 0
    assert suspended["shop_name"] == before["shop_name"]
    assert "Investigating" not in str(suspended)  # the reason is the shop's and admins' only

    await decide_ok(client, admin=admin, seller_id=seller_id, action="reinstate")
    after = await storefront(client, seller_id=seller_id)
    assert after.status_code == 200, after.text
    assert after.json() == before
    assert after.json()["active_listing_count"] == 1


async def test_storefront_route_does_not_shadow_the_own_profile(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn
) -> None:
    seller, seller_id = await approved_seller(client, session, admin=admin)

    own = await client.get(f"{SELLERS}/me", headers=seller.headers)

    assert own.status_code == 200, own.text
    assert own.json()["id"] == seller_id
    assert "payout_account_masked" in own.json()
