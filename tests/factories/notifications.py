"""A user's in-app notifications."""

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json

NOTIFICATIONS = "/v1/notifications"


async def inbox(client: httpx.AsyncClient, *, who: LoggedIn, unread: bool = False) -> list[Json]:
    """All of the caller's notifications, newest first (one page of up to 100)."""
    params: dict[str, str | int] = {"limit": 100}
    if unread:
        params["unread"] = "true"
    response = await client.get(NOTIFICATIONS, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    items: list[Json] = page["items"]
    return items
