"""The admin audit log."""

import httpx

from tests.factories.accounts import LoggedIn
from tests.factories.api import Json, json_ok

AUDIT_LOG = "/v1/admin/audit-log"


async def audit_log(
    client: httpx.AsyncClient,
    *,
    admin: LoggedIn,
    target_type: str | None = None,
    target_id: str | None = None,
) -> list[Json]:
    """Every entry of the audit log (of one target, when one is named), newest first, all
    pages."""
    entries: list[Json] = []
    params: dict[str, str | int] = {"limit": 100}
    if target_type is not None:
        params["target_type"] = target_type
    if target_id is not None:
        params["target_id"] = target_id
    while True:
        page = json_ok(await client.get(AUDIT_LOG, params=params, headers=admin.headers))
        entries += page["items"]
        if page["next_cursor"] is None:
            return entries
        params["cursor"] = page["next_cursor"]
