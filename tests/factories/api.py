"""What every HTTP test speaks: JSON bodies, RFC 9457 problems, money, timestamps and
Idempotency-Keys."""

import uuid
from datetime import datetime
from typing import Any

import httpx

Json = dict[str, Any]


def json_ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have this (success) status."""
    assert response.status_code == status, response.text
    return response.json()


def only_page(response: httpx.Response) -> list[Json]:
    """The items of a 200 page of a list that has no further page (`next_cursor` is null)."""
    page = json_ok(response)
    assert page["next_cursor"] is None
    items: list[Json] = page["items"]
    return items


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """The response is an RFC 9457 problem with this status and stable code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:marketplace:problem:{code}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


def usd(amount: int) -> Json:
    return {"amount": amount, "currency": "USD"}


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return f"key-{uuid.uuid4().hex}"


def parse_time(value: str) -> datetime:
    """An RFC 3339 timestamp of the API as an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed
