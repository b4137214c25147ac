"""Returns and disputes through the HTTP API, on orders brought to the state they need."""

from typing import Unpack

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, new_key, usd
from tests.factories.orders import Market, OrderTerms, confirm, paid_order, ship

# A return's tracking, as the buyer ships it back.
SHIP_BACK = {"carrier": "sandbox", "tracking_number": "SBX00000002-SILENT"}
# Evidence with a PNG's signature.
EVIDENCE_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def shipped_order(
    client: httpx.AsyncClient, *, market: Market, **terms: Unpack[OrderTerms]
) -> Json:
    """A `paid_order` the seller shipped."""
    _listing, order = await paid_order(client, market=market, **terms)
    return await ship(client, who=market.seller, order_id=order["id"])


async def completed_order(
    client: httpx.AsyncClient, *, market: Market, **terms: Unpack[OrderTerms]
) -> Json:
    """A paid, shipped order the buyer confirmed: escrow released to the seller."""
    order = await shipped_order(client, market=market, **terms)
    return await confirm(client, who=market.buyer, order_id=order["id"])


# --- returns ----------------------------------------------------------------------------------


async def post_return(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    order: Json,
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
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    return_id: str,
    step: str,
    body: Json | None = None,
) -> httpx.Response:
    headers = dict(who.headers)
    if step == "receive":
        headers["Idempotency-Key"] = new_key()
    return await client.post(f"/v1/returns/{return_id}/{step}", json=body, headers=headers)


async def step_ok(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    return_id: str,
    step: str,
    body: Json | None = None,
) -> Json:
    found: Json = json_ok(
        await return_step(client, who=who, return_id=return_id, step=step, body=body)
    )
    return found


# --- disputes ---------------------------------------------------------------------------------


async def post_dispute(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    order_id: str,
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


async def get_dispute(
    client: httpx.AsyncClient, *, who: LoggedIn, dispute_id: str
) -> httpx.Response:
    return await client.get(f"/v1/disputes/{dispute_id}", headers=who.headers)


async def post_dispute_message(
    client: httpx.AsyncClient,
    *,
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


async def upload_evidence(
    client: httpx.AsyncClient, *, who: LoggedIn, dispute_id: str, name: str, data: bytes
) -> httpx.Response:
    return await client.post(
        f"/v1/disputes/{dispute_id}/evidence",
        files={"file": (name, data, "application/octet-stream")},
        headers=who.headers,
    )


async def post_resolve(
    client: httpx.AsyncClient,
    *,
    admin: LoggedIn,
    dispute_id: str,
    outcome: str,
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
