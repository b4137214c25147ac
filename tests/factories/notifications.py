"""A user's in-app notifications."""

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, only_page

NOTIFICATIONS = "/v1/notifications"


async def inbox(client: httpx.AsyncClient, *, who: LoggedIn, unread: bool = False) -> list[Json]:
    """All of the caller's notifications, newest first (one page of up to 100)."""
    params: dict[str, str | int] = {"limit": 100}
    if unread:
        params["unread"] = "true"
    return only_page(await client.get(NOTIFICATIONS, params=params, headers=who.headers))
