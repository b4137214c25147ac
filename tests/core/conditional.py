"""The concurrent-edits contract (API.md) every editable resource meets — listings, the shop
profile, webhook endpoints — checked through HTTP by the tests of each."""

import asyncio
import contextlib
import re
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.api import assert_problem

Json = dict[str, Any]

STRONG_TAG = re.compile(r'"[A-Za-z0-9_-]+"')


def etag_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    tag = response.headers["etag"]
    assert STRONG_TAG.fullmatch(tag), tag
    return tag


async def read(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def patch(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: Json,
    if_match: str | None = None,
) -> httpx.Response:
    conditional = {} if if_match is None else {"If-Match": if_match}
    return await client.patch(url, json=body, headers={**headers, **conditional})


async def assert_conditional_reads(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> None:
    """GET tags the resource, the same way every time; `If-None-Match` with the current tag
    (weak comparison) answers 304 with the tag and no body, any other tag a full 200."""
    first = await read(client, url, headers)
    tag = etag_of(first)
    assert etag_of(await read(client, url, headers)) == tag

    for current in (tag, f"W/{tag}", f'"stale", {tag}', "*"):
        not_modified = await client.get(url, headers={**headers, "If-None-Match": current})
        assert not_modified.status_code == 304, (current, not_modified.text)
        assert not_modified.headers["etag"] == tag
        assert not_modified.content == b""
    stale = await client.get(url, headers={**headers, "If-None-Match": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == first.content


async def assert_conditional_edits(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    changes: list[Json],
    *,
    read_url: str | None = None,
) -> None:
    """With four different `changes` (PATCH bodies): a PATCH with the current tag applies and
    answers the new tag (the one a GET then shows); with a stale tag, or a weak one (If-Match
    compares strongly), it answers 412 `precondition_failed` and changes nothing; `*` and a
    list holding the current tag apply; no If-Match applies unconditionally, as before.
    `read_url`: where the editor reads what PATCH answers, when not at `url` itself."""
    assert len(changes) == 4
    patch_url = url
    url = read_url or url
    before = await read(client, url, headers)
    old_tag = etag_of(before)

    applied = await patch(client, patch_url, headers, changes[0], if_match=old_tag)
    new_tag = etag_of(applied)
    assert new_tag != old_tag
    after = await read(client, url, headers)
    assert etag_of(after) == new_tag
    assert after.content == applied.content

    for stale in (old_tag, f"W/{new_tag}", '"not-a-tag"', "garbage"):
        refused = await patch(client, patch_url, headers, changes[1], if_match=stale)
        assert_problem(refused, 412, "precondition_failed")
        unchanged = await read(client, url, headers)
        assert unchanged.content == after.content, stale
        assert etag_of(unchanged) == new_tag

    starred = await patch(client, patch_url, headers, changes[1], if_match="*")
    listed = await patch(
        client, patch_url, headers, changes[2], if_match=f'"other", {etag_of(starred)}'
    )
    unconditional = await patch(client, patch_url, headers, changes[3])
    for response in (starred, listed, unconditional):
        assert response.status_code == 200, response.text
    assert etag_of(await read(client, url, headers)) == etag_of(unconditional)


async def assert_one_of_two_editors_wins(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    changes: tuple[Json, Json],
    service: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    *,
    read_url: str | None = None,
) -> None:
    """Two editors PATCH at once with the same tag (real commits, PostgreSQL): exactly one
    wins, the other gets 412, and the resource is the winner's.

    The editor whose tag is accepted first then waits, before writing, for the other to
    compare its own (for a moment at most). An update that compared without holding the row
    lock would let the other compare against the same unchanged resource, and both would
    win. Holding the lock, the other cannot compare before the first commits: the wait runs
    out, and it then sees a changed tag. (A slow second editor could only hide a missing
    lock, never fail a correct one.) `read_url`: as for `assert_conditional_edits`."""
    patch_url = url
    url = read_url or url
    tag = etag_of(await read(client, url, headers))
    require_if_match = service.require_if_match
    first_editor: asyncio.Task[Any] | None = None
    second_compared = asyncio.Event()
    waited = False

    def compare(if_match: str | None, current: str) -> None:
        nonlocal first_editor
        require_if_match(if_match, current)
        if first_editor is None:
            first_editor = asyncio.current_task()
        else:
            second_compared.set()

    flush = AsyncSession.flush

    async def flush_after_the_other_compared(self: AsyncSession, *args: Any) -> None:
        nonlocal waited
        if asyncio.current_task() is first_editor and not waited:
            waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(second_compared.wait(), timeout=0.5)
        await flush(self, *args)

    with monkeypatch.context() as patched:
        patched.setattr(service, "require_if_match", compare)
        patched.setattr(AsyncSession, "flush", flush_after_the_other_compared)
        first, second = await asyncio.gather(
            *(patch(client, patch_url, headers, change, if_match=tag) for change in changes)
        )

    assert waited
    assert sorted([first.status_code, second.status_code]) == [200, 412], (
        first.text,
        second.text,
    )
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    assert_problem(loser, 412, "precondition_failed")
    now = await read(client, url, headers)
    assert now.content == winner.content
    assert etag_of(now) == etag_of(winner)
