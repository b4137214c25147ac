"""A seller's own software, as a third party would write it: only the client generated from
the committed openapi/openapi.json, against the real server (uvicorn, PostgreSQL, worker),
with webhooks received on a local HTTP receiver. And the at-least-once promise of webhook
delivery when a worker process is killed while a request is in flight."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.integration.conftest import LiveServers
from tests.integration.harness import LiveServer, WebhookReceiver, operation, verify

pytestmark = pytest.mark.postgres_only

PASSWORD = "a-long-test-password"


@dataclass
class Marketplace:
    """The generated client bound to one live server, with the people a seller meets."""

    api: ModuleType
    server: LiveServer

    @property
    def models(self) -> Any:
        return self.api.models

    def call(self, tag: str, operation_id: str, *args: Any, **kwargs: Any) -> Any:
        return operation(self.api, tag, operation_id).sync(*args, **kwargs)

    def anonymous(self) -> Any:
        return self.api.Client(base_url=self.server.base_url, raise_on_unexpected_status=True)

    def bearer(self, token: str) -> Any:
        return self.api.AuthenticatedClient(
            base_url=self.server.base_url, token=token, raise_on_unexpected_status=True
        )

    def login(self, email: str) -> Any:
        pair = self.call(
            "auth",
            "auth_token",
            client=self.anonymous(),
            body=self.models.BodyAuthToken(username=email, password=PASSWORD),
        )
        assert isinstance(pair, self.models.TokenPair), pair
        return self.bearer(pair.access_token)

    def register(self, name: str) -> tuple[str, Any]:
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        accepted = self.call(
            "auth",
            "auth_register",
            client=self.anonymous(),
            body=self.models.UserRegister(display_name=name, email=email, password=PASSWORD),
        )
        # 202 whether or not the address was free; the account logs in at once.
        assert isinstance(accepted, self.models.RegistrationAccepted), accepted
        assert accepted.email == email
        return email, self.login(email)

    def admin(self) -> Any:
        email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        self.server.create_admin(email, PASSWORD)
        return self.login(email)

    def approved_seller(self, admin: Any) -> Any:
        """A shop approved by the admin; its owner logged in again (roles changed)."""
        email, owner = self.register("seller")
        applied = self.call(
            "sellers",
            "sellers_apply_to_sell",
            client=owner,
            body=self.models.SellerApply(
                shop_name=f"Shop {uuid.uuid4().hex[:6]}",
                legal_name="Shop Ltd",
                seller_type=self.models.SellerType.BUSINESS,
                country="DE",
                contact_email=email,
                contact_phone="+49 30 123456",
                payout_account="DE89370400440532013000",
            ),
        )
        approved = self.call(
            "admin",
            "admin_approve_seller",
            applied.id,
            client=admin,
            body=self.models.SellerDecision(),
        )
        assert approved.status == self.models.SellerStatus.APPROVED
        return self.login(email)

    def category(self, admin: Any) -> Any:
        return self.call(
            "admin",
            "admin_create_category",
            client=admin,
            body=self.models.CategoryCreate(name=f"Things {uuid.uuid4().hex[:6]}"),
        )

    def api_key(self, owner: Any, *scopes: str) -> Any:
        key = self.call(
            "me",
            "me_create_api_key",
            client=owner,
            body=self.models.ApiKeyCreate(
                name="shop software",
                scopes=[self.models.ApiKeyScope(s) for s in scopes],
                password=PASSWORD,
            ),
        )
        assert isinstance(key, self.models.ApiKeyCreated), key
        return key

    def buy(self, buyer: Any, listing_id: uuid.UUID) -> Any:
        """Cart, checkout and payment: the paid checkout."""
        self.call(
            "cart",
            "cart_set_cart_item",
            listing_id,
            client=buyer,
            body=self.models.CartQuantity(quantity=1),
        )
        checkout = self.call(
            "checkout",
            "checkout_create_checkout",
            client=buyer,
            body=self.models.CheckoutCreate(
                shipping_address=self.models.ShippingAddress(
                    name="Ada",
                    line1="1 Main St",
                    city="Berlin",
                    postal_code="10115",
                    country=self.models.ShippingAddressCountry.DE,
                )
            ),
            idempotency_key=str(uuid.uuid4()),
        )
        return self.call(
            "checkout",
            "checkout_pay_checkout",
            checkout.id,
            client=buyer,
            body=self.models.PayRequest(payment_token="tok_success"),
            idempotency_key=str(uuid.uuid4()),
        )


def live_listing(market: Marketplace, integration: Any, category_id: uuid.UUID) -> Any:
    models = market.models
    draft = market.call(
        "listings",
        "listings_create_listing",
        client=integration,
        body=models.ListingCreate(
            category_id=category_id,
            condition=models.Condition.GOOD,
            price=models.Money(amount=1999, currency="USD"),
            title="Walnut desk organiser",
            quantity=5,
        ),
    )
    assert isinstance(draft, models.ListingRead), draft
    published = market.call("listings", "listings_publish_listing", draft.id, client=integration)
    assert published.status == models.ListingStatus.ACTIVE
    return published


def test_a_seller_integration_runs_on_the_generated_client_alone(
    live_server: LiveServer, generated_client: ModuleType, webhook_receiver: WebhookReceiver
) -> None:
    market = Marketplace(generated_client, live_server)
    models = market.models
    admin = market.admin()
    owner = market.approved_seller(admin)
    category = market.category(admin)

    key = market.api_key(owner, "listings:write", "orders:write", "webhooks:write")
    integration = market.bearer(key.key)
    endpoint = market.call(
        "webhooks",
        "webhooks_create_endpoint",
        client=integration,
        body=models.EndpointCreate(
            url=webhook_receiver.url_for("/marketplace"),
            event_types=[models.EndpointCreateEventTypesItem("order.paid")],
        ),
    )
    assert isinstance(endpoint, models.EndpointWithSecret), endpoint
    assert endpoint.secret.startswith("whsec_")
    listing = live_listing(market, integration, category.id)

    # A read-only key cannot ship: the scope, not the owner, refuses.
    reader = market.bearer(market.api_key(owner, "orders:read").key)

    _, buyer = market.register("buyer")
    paid = market.buy(buyer, listing.id)
    assert paid.status == models.CheckoutStatus.PAID
    (order,) = paid.orders

    (hook,) = webhook_receiver.wait_for(lambda requests: len(requests) >= 1, timeout=30)
    verify(endpoint.secret, hook.headers, hook.body)
    event = hook.json()
    assert event["type"] == "order.paid"
    assert event["id"] == hook.event_id
    assert event["data"]["order_id"] == str(order.id)
    assert event["data"]["seller_id"] == str(listing.seller.id)

    ship = models.ShipRequest(carrier="ups", tracking_number="1Z999AA10123456784")
    refused = operation(generated_client, "orders", "orders_ship_order").sync_detailed(
        order.id, client=reader, body=ship
    )
    assert refused.status_code == 403
    assert refused.parsed.code == "insufficient_scope"

    shipped = market.call(
        "orders",
        "orders_ship_order",
        uuid.UUID(event["data"]["order_id"]),
        client=integration,
        body=ship,
    )
    assert shipped.status == models.OrderStatus.SHIPPED
    assert shipped.tracking_number == "1Z999AA10123456784"

    deliveries = market.call("webhooks", "webhooks_list_deliveries", client=integration)
    assert [(d.event_id, d.status, d.attempts) for d in deliveries.items] == [
        (uuid.UUID(hook.event_id), models.DeliveryStatus.SUCCEEDED, 1)
    ]


def test_a_worker_killed_mid_delivery_loses_no_event(
    live_servers: LiveServers, generated_client: ModuleType, webhook_receiver: WebhookReceiver
) -> None:
    """Every event reaches the receiver at least once, the one in flight when the worker
    died a second time, with the same `webhook-id` and body: the receiver de-duplicates."""
    # A timeout long enough that the worker is surely still waiting when it is killed.
    settings = {"webhook_timeout": 10}
    server = live_servers.start(in_process_worker=False, settings=settings)
    market = Marketplace(generated_client, server)
    models = market.models
    admin = market.admin()
    owner = market.approved_seller(admin)
    integration = market.bearer(
        market.api_key(owner, "listings:write", "orders:read", "webhooks:write").key
    )
    endpoint = market.call(
        "webhooks",
        "webhooks_create_endpoint",
        client=integration,
        body=models.EndpointCreate(
            url=webhook_receiver.url_for(),
            event_types=[
                models.EndpointCreateEventTypesItem(name)
                for name in ("order.created", "order.paid")
            ],
        ),
    )
    assert isinstance(endpoint, models.EndpointWithSecret), endpoint
    listing = live_listing(market, integration, market.category(admin).id)
    _, buyer = market.register("buyer")
    orders = [market.buy(buyer, listing.id).orders[0].id for _ in range(3)]
    expected_events = 2 * len(orders)

    def statuses() -> list[str]:
        log = httpx.get(
            server.url("/v1/webhooks/deliveries"),
            headers={"Authorization": f"Bearer {integration.token}"},
            params={"limit": 100},
        )
        assert log.status_code == 200, log.text
        return sorted(d["status"] for d in log.json()["items"])

    def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
            time.sleep(0.2)

    # The first worker sends everything; one receiver request hangs. Once the others are
    # recorded, that one is the delivery in flight, and the worker dies holding it.
    webhook_receiver.hang(60, first=1)
    first_worker = server.start_worker("first", settings)
    settled = ["pending"] + ["succeeded"] * (expected_events - 1)
    wait_until(lambda: statuses() == settled, "all but the hanging delivery recorded")
    (in_flight,) = [r for r in webhook_receiver.requests if r.hung_for]
    first_worker.kill()
    assert statuses() == settled

    server.start_worker("second", settings)
    wait_until(lambda: statuses() == ["succeeded"] * expected_events, "every delivery succeeded")

    by_id = webhook_receiver.by_event_id()
    assert len(by_id) == expected_events
    for requests in by_id.values():
        for request in requests:
            verify(endpoint.secret, request.headers, request.body)
        assert len({r.body for r in requests}) == 1
    assert in_flight.event_id is not None
    assert {event_id: len(requests) for event_id, requests in by_id.items()} == {
        event_id: 2 if event_id == in_flight.event_id else 1 for event_id in by_id
    }
    assert {
        (event["type"], event["data"]["order_id"])
        for event in (requests[0].json() for requests in by_id.values())
    } == {(kind, str(order_id)) for order_id in orders for kind in ("order.created", "order.paid")}
