"""HTTP helpers for returns, disputes and reviews (built on the order helpers)."""

import dataclasses

import httpx

from tests.factories import LoggedIn
from tests.orders.helpers import Json, Market, confirm, new_key, paid_order, relogin, ship, usd


async def shipped_order(
    client: httpx.AsyncClient,
    m: Market,
    *,
    price: int = 1000,
    quantity: int = 1,
    shipping: int = 500,
) -> Json:
    _listing, order = await paid_order(client, m, price=price, quantity=quantity, shipping=shipping)
    return await ship(client, m.seller, order["id"])


async def completed_order(
    client: httpx.AsyncClient,
    m: Market,
    *,
    price: int = 1000,
    quantity: int = 1,
    shipping: int = 500,
) -> Json:
    """A paid, shipped order the buyer confirmed: escrow released to the seller."""
    order = await shipped_order(client, m, price=price, quantity=quantity, shipping=shipping)
    return await confirm(client, m.buyer, order["id"])


async def post_return(
    client: httpx.AsyncClient,
    who: LoggedIn,
    order: Json,
    *,
    reason: str = "damaged",
    items: list[Json] | None = None,
) -> httpx.Response:
    lines = items or [
        {"line_id": line["id"], "quantity": line["quantity"]} for line in order["lines"]
    ]
    return await client.post(
        f"/v1/orders/{order['id']}/returns",
        json={"reason": reason, "details": "see photos", "items": lines},
        headers=who.headers,
    )


async def return_step(
    client: httpx.AsyncClient, who: LoggedIn, return_id: str, step: str, body: Json | None = None
) -> httpx.Response:
    headers = dict(who.headers)
    if step == "receive":
        headers["Idempotency-Key"] = new_key()
    return await client.post(f"/v1/returns/{return_id}/{step}", json=body, headers=headers)


async def post_dispute(
    client: httpx.AsyncClient,
    who: LoggedIn,
    order_id: str,
    *,
    reason: str = "not_as_described",
    outcome: str = "refund_buyer",
    amount: int | None = None,
) -> httpx.Response:
    body: Json = {
        "reason": reason,
        "description": "Not what the listing said.",
        "requested_outcome": outcome,
    }
    if amount is not None:
        body["requested_amount"] = usd(amount)
    return await client.post(f"/v1/orders/{order_id}/disputes", json=body, headers=who.headers)


async def get_dispute(client: httpx.AsyncClient, who: LoggedIn, dispute_id: str) -> httpx.Response:
    return await client.get(f"/v1/disputes/{dispute_id}", headers=who.headers)


async def post_message(
    client: httpx.AsyncClient,
    who: LoggedIn,
    dispute_id: str,
    body: str,
    evidence_ids: list[str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/v1/disputes/{dispute_id}/messages",
        json={"body": body, "evidence_ids": evidence_ids or []},
        headers=who.headers,
    )


async def post_resolve(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    dispute_id: str,
    outcome: str,
    *,
    amount: int | None = None,
    key: str | None = None,
) -> httpx.Response:
    body: Json = {"outcome": outcome, "note": "decided"}
    if amount is not None:
        body["refund_amount"] = usd(amount)
    return await client.post(
        f"/v1/admin/disputes/{dispute_id}/resolve",
        json=body,
        headers={**admin.headers, "Idempotency-Key": key or new_key()},
    )


async def post_review(
    client: httpx.AsyncClient, who: LoggedIn, order_id: str, rating: int = 5, comment: str = "Great"
) -> httpx.Response:
    return await client.post(
        f"/v1/orders/{order_id}/review",
        json={"rating": rating, "comment": comment},
        headers=who.headers,
    )


async def relogin_market(client: httpx.AsyncClient, m: Market) -> Market:
    """The same cast with fresh tokens, for after the clock moved past their lifetime."""
    return dataclasses.replace(
        m,
        admin=await relogin(client, m.admin),
        seller=await relogin(client, m.seller),
        buyer=await relogin(client, m.buyer),
    )
