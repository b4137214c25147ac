"""Reviews of an order's other party."""

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok


async def post_review(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    order_id: str,
    rating: int = 5,
    comment: str = "Great",
) -> httpx.Response:
    return await client.post(
        f"/v1/orders/{order_id}/review",
        json={"rating": rating, "comment": comment},
        headers=who.headers,
    )


async def write_review(
    client: httpx.AsyncClient, *, who: LoggedIn, order_id: str, rating: int, comment: str = "Great"
) -> Json:
    """A review written (201)."""
    written: Json = json_ok(
        await post_review(client, who=who, order_id=order_id, rating=rating, comment=comment),
        201,
    )
    return written
