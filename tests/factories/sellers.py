"""Shops: applications, the admin's decisions, and approved sellers ready to list."""

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user, register_and_login
from tests.factories.api import Json, json_ok

SELLERS = "/v1/sellers"
MY_SELLER = "/v1/sellers/me"
ADMIN_SELLERS = "/v1/admin/sellers"

# An IBAN the sandbox provider pays out to, as the API stores it (compacted, upper-cased)...
GOOD_IBAN = "DE89370400440532013000"
# ...and as a person types it.
PAYOUT_ACCOUNT = "de89 3704 0044 0532 0130 00"
# An account the sandbox provider refuses to pay out to.
FAILING_ACCOUNT = "DE8937040044053201FAIL"


def seller_application(**overrides: Any) -> Json:
    """A valid POST /v1/sellers body with a shop name unique to this call."""
    body: Json = {
        "shop_name": f"Shop {uuid.uuid4().hex[:8]}",
        "description": "Refurbished phones and accessories",
        "legal_name": "Ada Lovelace",
        "seller_type": "individual",
        "country": "DE",
        "contact_email": "shop@example.com",
        "contact_phone": "+49 30 1234567",
        "payout_account": PAYOUT_ACCOUNT,
    }
    body.update(overrides)
    return body


async def apply(client: httpx.AsyncClient, *, who: LoggedIn, **overrides: Any) -> httpx.Response:
    return await client.post(SELLERS, json=seller_application(**overrides), headers=who.headers)


async def apply_ok(client: httpx.AsyncClient, *, who: LoggedIn, **overrides: Any) -> Json:
    """An application made and waiting for an admin: the new shop."""
    body: Json = json_ok(await apply(client, who=who, **overrides), 201)
    assert body["status"] == "pending_review"
    return body


async def decide(
    client: httpx.AsyncClient,
    *,
    admin: LoggedIn,
    seller_id: str,
    action: str,
    reason: str | None = None,
) -> httpx.Response:
    """POST /v1/admin/sellers/{id}/{action}, with a reason when one is given."""
    body = None if reason is None else {"reason": reason}
    return await client.post(
        f"{ADMIN_SELLERS}/{seller_id}/{action}", json=body, headers=admin.headers
    )


async def decide_ok(
    client: httpx.AsyncClient,
    *,
    admin: LoggedIn,
    seller_id: str,
    action: str,
    reason: str | None = None,
) -> Json:
    body: Json = json_ok(
        await decide(client, admin=admin, seller_id=seller_id, action=action, reason=reason)
    )
    return body


async def approve(client: httpx.AsyncClient, *, admin: LoggedIn, seller_id: str) -> Json:
    return await decide_ok(client, admin=admin, seller_id=seller_id, action="approve")


async def my_profile(client: httpx.AsyncClient, *, who: LoggedIn) -> Json:
    body: Json = json_ok(await client.get(MY_SELLER, headers=who.headers))
    return body


async def approved_seller(
    client: httpx.AsyncClient,
    session: AsyncSession,
    *,
    admin: LoggedIn | None = None,
    **overrides: Any,
) -> tuple[LoggedIn, str]:
    """A registered, logged-in user whose shop (its application changed by `overrides`) an
    admin approved: their login and the seller id."""
    admin = admin or await admin_user(client, session)
    seller = await register_and_login(client, display_name="Seller")
    seller_id: str = (await apply_ok(client, who=seller, **overrides))["id"]
    approved = await approve(client, admin=admin, seller_id=seller_id)
    assert approved["status"] == "approved"
    return seller, seller_id


async def make_seller_in_state(
    client: httpx.AsyncClient, *, admin: LoggedIn, state: str
) -> tuple[LoggedIn, str | None]:
    """A logged-in user whose shop is in `state` ("none": never applied)."""
    user = await register_and_login(client)
    if state == "none":
        return user, None
    seller_id: str = (await apply_ok(client, who=user))["id"]
    if state == "rejected":
        await decide_ok(
            client, admin=admin, seller_id=seller_id, action="reject", reason="Blurry ID document"
        )
    elif state in ("approved", "suspended"):
        await approve(client, admin=admin, seller_id=seller_id)
        if state == "suspended":
            await decide_ok(
                client, admin=admin, seller_id=seller_id, action="suspend", reason="Chargebacks"
            )
    else:
        assert state == "pending_review", state
    return user, seller_id


async def storefront(client: httpx.AsyncClient, *, seller_id: str) -> httpx.Response:
    """The shop's public page, read anonymously as the public does."""
    return await client.get(f"{SELLERS}/{seller_id}")
