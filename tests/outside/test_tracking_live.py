"""Parcel tracking as an integrator sees it: `marketplace serve` in its own process, seeded
with the demo data, talked to over real HTTP.

The demo buyer buys one of the demo seller's listings, the seller ships it with a sandbox
number the carrier never reports on by itself (`-SILENT`), and a tracking provider pushes
a signed delivery scan to `POST /v1/logistics/webhooks/sandbox` (Standard Webhooks, under
the development sandbox secret, over the exact bytes sent). The scan delivers the parcel
once, a replay changes nothing, a badly signed event is refused, and the order's completion
date moves to delivery + `MARKETPLACE_AUTO_COMPLETE_AFTER`.
"""

import json
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.config import DEV_SANDBOX_TRACKING_SECRET
from app.core import signing
from app.demo import LISTINGS
from tests.outside.live import REPO_ROOT, LiveServer, base_environment, login, progress

if TYPE_CHECKING:
    from tests.conftest import ScratchDatabases

# A demo listing with stock to spare (app/demo.py LISTINGS).
LISTING_TITLE = "Cast iron skillet 28cm"
TRACKING_NUMBER = "SBX00000001-SILENT"  # the sandbox carrier reports nothing by itself
WEBHOOK = "/v1/logistics/webhooks/sandbox"
# The defaults of MARKETPLACE_AUTO_COMPLETE_AFTER and MARKETPLACE_AUTO_COMPLETE_FALLBACK.
AUTO_COMPLETE_AFTER = timedelta(days=14)
AUTO_COMPLETE_FALLBACK = timedelta(days=30)
OTHER_SECRET = "whsec_" + "d3Jvbmctc2VjcmV0LW9mLXRoZS1zZW5kZXI="
ADDRESS = {
    "name": "Demo Buyer",
    "line1": "Hauptstraße 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


@pytest.fixture
def server(scratch_databases: "ScratchDatabases", tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        command=[sys.executable, "-m", "app.cli"],
        env=base_environment(
            MARKETPLACE_DATABASE_URL=scratch_databases.new_url(),
            MARKETPLACE_MEDIA_DIR=str(tmp_path / "media"),
        ),
        cwd=REPO_ROOT,
        log_path=tmp_path / "server.log",
    )
    live.run("migrate")
    assert "demo data created" in live.run("seed-demo")
    with live.serving():
        yield live


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_headers(
    body: bytes, *, secret: str = DEV_SANDBOX_TRACKING_SECRET, message_id: str | None = None
) -> dict[str, str]:
    """Standard Webhooks headers for `body`, stamped now."""
    msg_id = message_id or f"msg_{uuid.uuid4().hex}"
    stamp = int(time.time())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.signature(secret, msg_id, stamp, body),
    }


def tracking_event(status: str, occurred_at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "carrier": "sandbox",
        "tracking_number": TRACKING_NUMBER,
        "status": status,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        **extra,
    }


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert (problem["status"], problem["code"]) == (status, code), problem
    assert "Traceback" not in response.text


def test_a_signed_carrier_event_delivers_a_demo_order(server: LiveServer) -> None:
    started = time.monotonic()
    base = server.base_url
    buyer, seller = bearer(login(base, "buyer")), bearer(login(base, "seller"))
    assert any(title == LISTING_TITLE for _, title, *_ in LISTINGS)

    with httpx.Client(base_url=base, timeout=30) as client:
        carriers = client.get("/v1/carriers")  # no login
        assert carriers.status_code == 200, carriers.text
        codes = [carrier["code"] for carrier in carriers.json()]
        assert {"sandbox", "ups"} <= set(codes), codes

        # The buyer finds the demo listing, puts it in the cart, checks out and pays.
        search = client.get("/v1/listings", params={"q": "skillet"})
        assert search.status_code == 200, search.text
        (listing,) = [item for item in search.json()["items"] if item["title"] == LISTING_TITLE]
        carted = client.put(f"/v1/cart/items/{listing['id']}", json={"quantity": 1}, headers=buyer)
        assert carted.status_code == 200, carted.text
        assert carted.json()["item_count"] == 1, carted.json()
        checkout = client.post(
            "/v1/checkout",
            json={"shipping_address": ADDRESS},
            headers={**buyer, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert checkout.status_code == 201, checkout.text
        (order,) = checkout.json()["orders"]
        paid = client.post(
            f"/v1/checkouts/{checkout.json()['id']}/pay",
            json={"payment_token": "tok_success"},
            headers={**buyer, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert paid.status_code == 200, paid.text
        assert paid.json()["orders"][0]["status"] == "paid", paid.json()
        order_url = f"/v1/orders/{order['id']}"

        # The seller ships it under a sandbox number the carrier never reports on by itself.
        shipped = client.post(
            f"{order_url}/ship",
            json={"carrier": "sandbox", "tracking_number": TRACKING_NUMBER},
            headers=seller,
        )
        assert shipped.status_code == 200, shipped.text
        assert shipped.json()["status"] == "shipped", shipped.json()
        assert shipped.json()["delivered_at"] is None
        shipped_at = parse_time(shipped.json()["shipped_at"])
        # Without a delivery scan, the order completes the fallback after shipping.
        assert parse_time(shipped.json()["auto_complete_at"]) == (
            shipped_at + AUTO_COMPLETE_FALLBACK
        )
        before = client.get(f"{order_url}/shipments", headers=buyer)
        assert before.status_code == 200, before.text
        (waiting,) = before.json()
        assert (waiting["status"], waiting["events"]) == ("label_created", [])

        # The tracking provider pushes a signed delivery scan: the exact bytes are signed.
        delivered_at = datetime.now(UTC)
        event = tracking_event(
            "delivered", delivered_at, description="Left at the front door", location="Berlin"
        )
        body = json.dumps(event).encode()
        headers = signed_headers(body)
        first = client.post(WEBHOOK, content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json() == {"applied": 1}

        # The very same request again (a network retry), then the same event under a new
        # message id (the provider's retry): applied once only.
        again = client.post(WEBHOOK, content=body, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json() == {"applied": 0}
        retried = client.post(WEBHOOK, content=body, headers=signed_headers(body))
        assert retried.status_code == 200, retried.text
        assert retried.json() == {"applied": 0}

        # Badly signed events are refused: another secret, or a body altered after signing.
        forged = json.dumps(
            tracking_event("returned_to_sender", delivered_at + timedelta(seconds=1))
        ).encode()
        wrong_secret = client.post(
            WEBHOOK, content=forged, headers=signed_headers(forged, secret=OTHER_SECRET)
        )
        assert_problem(wrong_secret, 401, "invalid_signature")
        tampered = client.post(WEBHOOK, content=forged, headers=signed_headers(body))
        assert_problem(tampered, 401, "invalid_signature")

        # The buyer sees the order delivered, completing AUTO_COMPLETE_AFTER later.
        got = client.get(order_url, headers=buyer)
        assert got.status_code == 200, got.text
        seen = got.json()
        assert seen["status"] == "shipped", seen
        assert parse_time(seen["delivered_at"]) == delivered_at, seen["delivered_at"]
        assert parse_time(seen["auto_complete_at"]) == delivered_at + AUTO_COMPLETE_AFTER, seen[
            "auto_complete_at"
        ]

        # One parcel, delivered, with the one scan the provider pushed.
        listed = client.get(f"{order_url}/shipments", headers=buyer)
        assert listed.status_code == 200, listed.text
        (parcel,) = listed.json()
        assert (parcel["carrier"], parcel["tracking_number"]) == ("sandbox", TRACKING_NUMBER)
        assert parcel["status"] == "delivered", parcel
        assert parse_time(parcel["delivered_at"]) == delivered_at
        assert parse_time(parcel["status_at"]) == delivered_at
        assert parcel["correctable_until"] is None  # a scan proves the number right
        (scan,) = parcel["events"]
        assert (scan["status"], scan["description"], scan["location"]) == (
            "delivered",
            "Left at the front door",
            "Berlin",
        )
        assert parse_time(scan["occurred_at"]) == delivered_at

        # The order's timeline ends with the carrier's step.
        timeline = client.get(f"{order_url}/events", headers=buyer)
        assert timeline.status_code == 200, timeline.text
        last = timeline.json()[-1]
        assert (last["action"], last["actor_role"], last["to_status"]) == (
            "track",
            "carrier",
            "delivered",
        )

    progress(
        f"\ntracking live: demo buyer bought {LISTING_TITLE!r}, seller shipped "
        f"{TRACKING_NUMBER}; a signed delivery event applied 1, its replay and retry 0, "
        "a wrong secret and an altered body 401 invalid_signature; order delivered, "
        "auto-completes 14 days after, one delivered scan, timeline 'track' by the carrier; "
        f"{time.monotonic() - started:.1f} s over HTTP"
    )
