"""Issue 19's market as its users meet it: `marketplace serve` in its own process, seeded with
the demo data, talked to over real HTTP, its worker running in-process as a developer's does.

The demo buyer previews the demo coupon in the cart and buys with it (the platform's discount
on the order, the checkout's breakdown); haggles over a demo listing (offer, the shop's
counter, acceptance) and buys at the agreed price; favourites a listing and hears from the
worker once its price drops.
"""

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.demo import DEMO_COUPON
from tests.outside.live import REPO_ROOT, LiveServer, base_environment, login, progress

if TYPE_CHECKING:
    from tests.conftest import ScratchDatabases

SKILLET = "Cast iron skillet 28cm"  # 39.00, ten in stock (app/demo.py LISTINGS)
BAG = "Leather messenger bag"
ADDRESS = {
    "name": "Demo Buyer",
    "line1": "Hauptstraße 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
# The worker's watermarks trail the clock by 30 s and it sweeps every 5 s: a notice comes
# within about 40 s; bounded well above that.
NOTICE_WAIT_SECONDS = 120.0


@pytest.fixture
def server(scratch_databases: "ScratchDatabases", tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        command=[sys.executable, "-m", "app.cli"],
        env=base_environment(
            MARKETPLACE_DATABASE_URL=scratch_databases.new_url(),
            MARKETPLACE_MEDIA_DIR=str(tmp_path / "media"),
            MARKETPLACE_ENVIRONMENT="development",
            MARKETPLACE_RUN_WORKER_IN_PROCESS="true",
        ),
        cwd=REPO_ROOT,
        log_path=tmp_path / "server.log",
    )
    live.run("migrate")
    assert "demo data created" in live.run("seed-demo")
    with live.serving():
        yield live


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def find(client: httpx.Client, title: str) -> dict[str, Any]:
    found = ok(client.get("/v1/listings", params={"q": title.split()[0]}))
    (listing,) = [item for item in found["items"] if item["title"] == title]
    return listing


def pay(client: httpx.Client, buyer: dict[str, str], checkout_id: str) -> dict[str, Any]:
    paid: dict[str, Any] = ok(
        client.post(
            f"/v1/checkouts/{checkout_id}/pay",
            json={"payment_token": "tok_success"},
            headers={**buyer, "Idempotency-Key": str(uuid.uuid4())},
        )
    )
    assert [order["status"] for order in paid["orders"]] == ["paid"]
    return paid


def test_coupons_offers_and_favourites_over_real_http(server: LiveServer) -> None:
    started = time.monotonic()
    base = server.base_url
    buyer, seller = bearer(login(base, "buyer")), bearer(login(base, "seller"))
    with httpx.Client(base_url=base, timeout=30) as client:
        skillet, bag = find(client, SKILLET), find(client, BAG)
        assert (skillet["price"]["amount"], skillet["accepts_offers"]) == (3900, True)

        # The coupon, previewed in the cart, then applied at checkout: 10 % of 2 x 39.00.
        ok(client.put(f"/v1/cart/items/{skillet['id']}", json={"quantity": 2}, headers=buyer))
        cart = ok(client.get("/v1/cart", params={"coupon": DEMO_COUPON.lower()}, headers=buyer))
        (group,) = cart["groups"]
        assert group["discount_total"]["amount"] == 780, group
        checkout = ok(
            client.post(
                "/v1/checkout",
                json={"shipping_address": ADDRESS, "coupon_codes": [DEMO_COUPON]},
                headers={**buyer, "Idempotency-Key": str(uuid.uuid4())},
            ),
            201,
        )
        (discount,) = checkout["discounts"]
        assert (discount["code"], discount["funded_by"]) == (DEMO_COUPON, "platform")
        assert discount["amount"]["amount"] == 780
        assert checkout["items_total"]["amount"] == 7800
        assert checkout["total"]["amount"] == 7800 + checkout["shipping_total"]["amount"] - 780
        paid = pay(client, buyer, checkout["id"])
        assert paid["orders"][0]["discount_total"]["amount"] == 780
        # Once per buyer: the coupon is spent.
        ok(client.put(f"/v1/cart/items/{skillet['id']}", json={"quantity": 1}, headers=buyer))
        spent = client.get("/v1/cart", params={"coupon": DEMO_COUPON}, headers=buyer)
        assert spent.status_code == 409, spent.text
        assert spent.json()["code"] == "coupon_exhausted"
        removed = client.delete(f"/v1/cart/items/{skillet['id']}", headers=buyer)
        assert removed.status_code == 204, removed.text

        # An offer on the bag, the shop's counter, the buyer's acceptance, the purchase.
        price = bag["price"]["amount"]
        offered = ok(
            client.post(
                f"/v1/listings/{bag['id']}/offers",
                json={"amount": {"amount": price * 8 // 10, "currency": "USD"}, "quantity": 1},
                headers=buyer,
            ),
            201,
        )
        assert offered["status"] == "pending_seller", offered
        countered = ok(
            client.post(
                f"/v1/offers/{offered['id']}/counter",
                json={"amount": {"amount": price * 9 // 10, "currency": "USD"}},
                headers=seller,
            )
        )
        assert countered["status"] == "pending_buyer", countered
        accepted = ok(client.post(f"/v1/offers/{offered['id']}/accept", headers=buyer))
        assert accepted["status"] == "accepted", accepted
        bought = ok(
            client.post(
                f"/v1/offers/{offered['id']}/checkout",
                json={"shipping_address": ADDRESS},
                headers={**buyer, "Idempotency-Key": str(uuid.uuid4())},
            ),
            201,
        )
        (order,) = pay(client, buyer, bought["id"])["orders"]
        assert order["lines"][0]["unit_price"]["amount"] == price * 9 // 10
        thread = ok(client.get(f"/v1/offers/{offered['id']}", headers=buyer))
        assert thread["status"] == "purchased", thread

        # A favourite, a price drop, and the worker's notice.
        ok(client.put(f"/v1/me/favourites/{skillet['id']}", headers=buyer), 201)
        ok(
            client.patch(
                f"/v1/listings/{skillet['id']}",
                json={"price": {"amount": 3500, "currency": "USD"}},
                headers=seller,
            )
        )
        deadline = time.monotonic() + NOTICE_WAIT_SECONDS
        notices: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not notices:
            inbox = ok(client.get("/v1/notifications", params={"limit": 100}, headers=buyer))
            notices = [n for n in inbox["items"] if n["type"] == "favourite.price_dropped"]
            if not notices:
                time.sleep(2)
        (notice,) = notices
        assert notice["resource_id"] == skillet["id"], notice
        mine = ok(client.get(f"/v1/sellers/me/listings/{skillet['id']}", headers=seller))
        assert mine["favourite_count"] == 1, mine
    progress(f"market live: coupon, offer and favourite in {time.monotonic() - started:.1f} s")
