"""Buyer-seller conversations about a listing or an order."""

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json

CONVERSATIONS = "/v1/conversations"


async def post_start(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    listing_id: str | None = None,
    order_id: str | None = None,
    message: str = "Is it still available?",
) -> httpx.Response:
    body: Json = {"message": message}
    if listing_id is not None:
        body["listing_id"] = listing_id
    if order_id is not None:
        body["order_id"] = order_id
    return await client.post(CONVERSATIONS, json=body, headers=who.headers)


async def start(
    client: httpx.AsyncClient,
    *,
    who: LoggedIn,
    listing_id: str | None = None,
    order_id: str | None = None,
    message: str = "Is it still available?",
    expected: int = 201,
) -> Json:
    response = await post_start(
        client, who=who, listing_id=listing_id, order_id=order_id, message=message
    )
    assert response.status_code == expected, response.text
    conversation: Json = response.json()
    return conversation


async def post_message(
    client: httpx.AsyncClient, *, who: LoggedIn, conversation_id: str, body: str
) -> httpx.Response:
    return await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages", json={"body": body}, headers=who.headers
    )


async def send(
    client: httpx.AsyncClient, *, who: LoggedIn, conversation_id: str, body: str
) -> Json:
    response = await post_message(client, who=who, conversation_id=conversation_id, body=body)
    assert response.status_code == 201, response.text
    message: Json = response.json()
    return message


async def get_page(
    client: httpx.AsyncClient, *, who: LoggedIn, path: str, **params: str | int
) -> Json:
    response = await client.get(path, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: Json = response.json()
    return page


async def all_messages(
    client: httpx.AsyncClient, *, who: LoggedIn, conversation_id: str
) -> list[Json]:
    page = await get_page(
        client, who=who, path=f"{CONVERSATIONS}/{conversation_id}/messages", limit=100
    )
    assert page["next_cursor"] is None
    items: list[Json] = page["items"]
    return items
