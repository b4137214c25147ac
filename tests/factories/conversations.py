"""Buyer-seller conversations about a listing or an order."""

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok, only_page

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
    conversation: Json = json_ok(response, expected)
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
    message: Json = json_ok(
        await post_message(client, who=who, conversation_id=conversation_id, body=body), 201
    )
    return message


async def get_page(
    client: httpx.AsyncClient, *, who: LoggedIn, path: str, **params: str | int
) -> Json:
    page: Json = json_ok(await client.get(path, params=params, headers=who.headers))
    return page


async def all_messages(
    client: httpx.AsyncClient, *, who: LoggedIn, conversation_id: str
) -> list[Json]:
    path = f"{CONVERSATIONS}/{conversation_id}/messages"
    return only_page(await client.get(path, params={"limit": 100}, headers=who.headers))
