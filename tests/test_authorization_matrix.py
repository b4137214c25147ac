"""Who may touch whose resources, generated from the route table.

Party A (buyer A, shop A and its owner) owns one resource of every kind that a route can
name by id. Every route whose path carries an id is called with A's ids by three callers who
are party to none of it: buyer C (signed in, no shop), the owner of another approved shop C
(signed in) and an API key of shop C holding every scope. For each route and caller:

- a private resource: the answer is exactly the one the same caller gets for ids that exist
  nowhere, and that answer is a 404 or a 403 naming a role the caller lacks (`ROLE_GATES`,
  decided before any resource is read): a stranger cannot even learn that A's resource
  exists, whatever the credential.
- a public resource (listings, storefronts, public profiles, published reviews): the answer
  is the one `PUBLIC` states for that route and caller, and differs from the answer for ids
  that exist nowhere.
- an admin route: 403 `admin_required` for people, `insufficient_scope` for a key (keys never
  act as admins).
- a party of A (buyer A or shop A's owner; the admin on admin routes) gets a different answer
  with the same ids, and never a validation error: the ids are real, the body is valid, and
  the route does tell parties from strangers.

Every route with an id is decided here: one whose id this module does not know
(`RESOURCE_IDS`) fails as its own case until someone says what of A's it names; a new route
on a known id is held to the private rule until `PUBLIC` lists it. Bodies are the request
schema's OpenAPI example, else the smallest document the schema accepts, and every POST
carries a fresh `Idempotency-Key`, so that authorisation, not validation, decides each answer.

The world is built once for the module, through the HTTP API, inside one transaction; each
case runs in a savepoint rolled back afterwards, so no case sees another's writes.
"""

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from app.catalog.category_tree import CategoryTreeCache
from app.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.factories.accounts import DEFAULT_PASSWORD, LoggedIn, buyer_user
from tests.factories.api import new_key
from tests.factories.apps import make_settings
from tests.factories.catalog import PNG_1X1, listing_for_sale
from tests.factories.disputes import post_dispute, post_return
from tests.factories.offers import make_offer, offer_listing
from tests.factories.orders import Market, add_to_cart, checkout, confirm, market, pay, ship
from tests.factories.payments import post_payout
from tests.factories.reviews import post_review
from tests.factories.sellers import approved_seller

Json = dict[str, Any]

# A global address: a valid webhook target everywhere, and nothing is ever sent to it here.
WEBHOOK_URL = "https://93.184.215.14/hooks/marketplace"

BUYER_C = "buyer C"
SELLER_C = "shop C's owner"
KEY_C = "API key of shop C"
CALLERS = (BUYER_C, SELLER_C, KEY_C)

RESOURCE_IDS: dict[str, str] = {
    "order_id": "buyer A's completed order (returned and reviewed by both)",
    "checkout_id": "buyer A's checkout of that order",
    "return_id": "the return buyer A asked for on it",
    "review_id": "buyer A's review of shop A, published (both parties wrote one)",
    "dispute_id": "buyer A's dispute of a shipped order",
    "evidence_id": "a file buyer A uploaded to that dispute",
    "conversation_id": "buyer A's conversation with shop A about its listing",
    "listing_id": "shop A's live listing (in buyer A's cart)",
    "image_id": "that listing's image",
    "endpoint_id": "shop A's webhook endpoint",
    "delivery_id": "a webhook delivery to that endpoint",
    "key_id": "shop A's owner's API key",
    "notification_id": "a notification of shop A's owner",
    "payout_id": "a payout shop A requested",
    "seller_id": "shop A",
    "user_id": "buyer A",
    "category_id": "the category shop A lists in",
    "shipping_profile_id": "a shipping profile of shop A (no listing on it)",
    "promotion_id": "a promotion of shop A (shop-funded)",
    "shipment_id": "the parcel of buyer A's completed order",
    "provider": "the sandbox tracking provider (its events are signed, not logged in)",
    "rule_id": "a commission rule for shop A (admins' only)",
    "offer_id": "buyer A's offer on a listing of shop A that takes offers",
    "saved_search_id": "a saved search of buyer A (who also favourited shop A's listing)",
}
"""Every id a route may carry, and what of party A's it names in the world below."""

ROLE_GATES = frozenset({"admin_required", "seller_required", "insufficient_scope"})
"""403 codes that refuse a caller for what they are, before any resource is looked up."""

ADMIN_PREFIX = "/v1/admin/"

Expected = tuple[int, str | None]
"""A status, and the problem's `code` for errors."""


def _everyone(status: int, code: str | None = None) -> dict[str, Expected]:
    return dict.fromkeys(CALLERS, (status, code))


PUBLIC: dict[tuple[str, str], dict[str, Expected]] = {
    ("GET", "/v1/listings/{listing_id}"): _everyone(200),
    ("POST", "/v1/listings/{listing_id}/reports"): _everyone(201),
    ("GET", "/v1/listings/{listing_id}/reviews"): _everyone(200),
    # Anyone may buy a live listing; a key may not (carts are not open to keys).
    ("PUT", "/v1/cart/items/{listing_id}"): {BUYER_C: (200, None), SELLER_C: (200, None)},
    ("GET", "/v1/sellers/{seller_id}"): _everyone(200),
    ("GET", "/v1/sellers/{seller_id}/reviews"): _everyone(200),
    ("GET", "/v1/users/{user_id}"): _everyone(200),
    ("GET", "/v1/users/{user_id}/reviews"): _everyone(200),
    ("GET", "/v1/reviews/{review_id}"): _everyone(200),
    # A published review is public; only the person it is about may answer it.
    ("POST", "/v1/reviews/{review_id}/reply"): _everyone(403, "not_review_subject"),
    # Anyone may make an offer on a listing that takes offers; shop A's world listing does
    # not (its offer is on another), and a key acts only for its shop, never as a buyer.
    ("POST", "/v1/listings/{listing_id}/offers"): {
        BUYER_C: (409, "offers_not_accepted"),
        SELLER_C: (409, "offers_not_accepted"),
        KEY_C: (403, "insufficient_scope"),
    },
    # Anyone may favourite a live listing not their own (a key may not: favourites are a
    # person's); buyer A, who already did, is answered with the favourite as it is (200).
    ("PUT", "/v1/me/favourites/{listing_id}"): {BUYER_C: (201, None), SELLER_C: (201, None)},
    # No login: a tracking provider signs its events, and an unsigned one is refused.
    ("POST", "/v1/logistics/webhooks/{provider}"): _everyone(401, "invalid_signature"),
}
"""Routes on resources anyone may see, with what each stranger gets from them (a caller not
named is held to the private rule)."""


# --- the route table ----------------------------------------------------------------------------

_PATH_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")
_NOT_SENT = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str

    @property
    def ids(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)

    def url(self, ids: dict[str, str]) -> str:
        return _PATH_PARAMETER.sub(lambda match: ids[match.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def routes_with_ids(app: FastAPI) -> list[Route]:
    found = {
        Route(method, path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and (path := context.path) is not None
        and _PATH_PARAMETER.search(path)
        for method in context.methods or ()
        if method not in _NOT_SENT
    }
    return sorted(found, key=lambda route: (route.path, route.method))


def _collection_app() -> FastAPI:
    """The app as configured for tests, only to read its routes (it never connects)."""
    return create_app(make_settings("sqlite+aiosqlite:///:memory:"))


ROUTES = routes_with_ids(_collection_app())


def test_the_public_table_names_only_routes_that_exist() -> None:
    stale = set(PUBLIC) - {(route.method, route.path) for route in ROUTES}
    assert not stale, f"PUBLIC lists routes the app no longer has: {sorted(stale)}"


# --- valid bodies from the OpenAPI document ---------------------------------------------------


def _resolve(spec: Json, schema: Json) -> Json:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def minimal_instance(spec: Json, schema: Json) -> Any:
    """The schema's first example, else the smallest value it accepts: required properties
    only, the first enum member or non-null alternative, the least number allowed."""
    schema = _resolve(spec, schema)
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            choices = [s for s in schema[combined] if _resolve(spec, s).get("type") != "null"]
            return minimal_instance(spec, choices[0])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: minimal_instance(spec, properties[name]) for name in schema.get("required", [])
        }
    if kind == "array":
        return [minimal_instance(spec, schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        return _minimal_string(schema)
    raise AssertionError(f"no minimal value for schema {schema}: give it an example")


def _minimal_string(schema: Json) -> str:
    value: str = {"uuid": str(uuid.uuid4()), "email": "someone@example.com"}.get(
        schema.get("format", ""), "x" * max(1, schema.get("minLength", 1))
    )
    pattern = schema.get("pattern")
    assert pattern is None or re.search(pattern, value), (
        f"{value!r} does not match {pattern!r}: give the schema an example"
    )
    return value


def request_body(spec: Json, route: Route) -> dict[str, Any]:
    """httpx keyword arguments carrying a valid body for the route (none if it takes none)."""
    body = spec["paths"][route.path][route.method.lower()].get("requestBody")
    if body is None:
        return {}
    media_type, content = next(iter(body["content"].items()))
    if media_type == "multipart/form-data":
        schema = _resolve(spec, content["schema"])
        return {"files": {name: ("x.png", PNG_1X1, "image/png") for name in schema["required"]}}
    assert media_type == "application/json", f"{route}: unexpected body type {media_type}"
    examples = content.get("examples") or {}
    if examples:
        return {"json": next(iter(examples.values()))["value"]}
    return {"json": minimal_instance(spec, content["schema"])}


# --- the world --------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    admin: LoggedIn
    buyer_a: LoggedIn
    seller_a: LoggedIn
    callers: dict[str, LoggedIn]
    ids: dict[str, str]


def _ok(response: httpx.Response, status: int = 200) -> Json:
    assert response.status_code == status, response.text
    body: Json = response.json()
    return body


def _bearer(owner: LoggedIn, key: str) -> LoggedIn:
    return LoggedIn(user_id=owner.user_id, email=owner.email, access_token=key, refresh_token="")


async def _api_key(client: httpx.AsyncClient, owner: LoggedIn, scopes: list[str]) -> Json:
    body = {"name": "integration", "scopes": scopes, "password": DEFAULT_PASSWORD}
    return _ok(await client.post("/v1/me/api-keys", json=body, headers=owner.headers), 201)


async def _order(client: httpx.AsyncClient, m: Market, listing_id: str) -> tuple[str, Json]:
    """(checkout id, order) of one unit of the listing, bought and paid by the market's buyer,
    then shipped by its seller."""
    created = await checkout(client, who=m.buyer, items=[{"listing_id": listing_id, "quantity": 1}])
    (order,) = (await pay(client, who=m.buyer, checkout_id=created["id"]))["orders"]
    return created["id"], await ship(client, who=m.seller, order_id=order["id"])


async def build_world(client: httpx.AsyncClient, database: Database, spec: Json) -> World:
    async with database.session_scope() as session:
        m = await market(client, session)
        seller_c, _shop_c = await approved_seller(client, session, admin=m.admin)
    a_seller = m.seller
    endpoint = _ok(
        await client.post(
            "/v1/webhooks/endpoints",
            json={"url": WEBHOOK_URL, "event_types": ["order.created"]},
            headers=a_seller.headers,
        ),
        201,
    )
    listing = await listing_for_sale(client, seller=a_seller, category_id=m.category_id)
    shipping_profile = _ok(
        await client.post(
            "/v1/sellers/me/shipping-profiles",
            **request_body(spec, Route("POST", "/v1/sellers/me/shipping-profiles")),
            headers=a_seller.headers,
        ),
        201,
    )
    promotion = _ok(
        await client.post(
            "/v1/sellers/me/coupons",
            **request_body(spec, Route("POST", "/v1/sellers/me/coupons")),
            headers=a_seller.headers,
        ),
        201,
    )
    pictured = _ok(
        await client.post(
            f"/v1/listings/{listing['id']}/images",
            files={"file": ("x.png", PNG_1X1, "image/png")},
            headers=a_seller.headers,
        ),
        201,
    )
    checkout_id, completed = await _order(client, m, listing["id"])
    completed = await confirm(client, who=m.buyer, order_id=completed["id"])
    returned = _ok(await post_return(client, who=m.buyer, order=completed), 201)
    review = _ok(await post_review(client, who=m.buyer, order_id=completed["id"]), 201)
    _ok(await post_review(client, who=a_seller, order_id=completed["id"]), 201)
    _, shipped = await _order(client, m, listing["id"])
    dispute = _ok(await post_dispute(client, who=m.buyer, order_id=shipped["id"]), 201)
    evidence = _ok(
        await client.post(
            f"/v1/disputes/{dispute['id']}/evidence",
            files={"file": ("x.png", PNG_1X1, "image/png")},
            headers=m.buyer.headers,
        ),
        201,
    )
    conversation = _ok(
        await client.post(
            "/v1/conversations",
            json={"listing_id": listing["id"], "message": "Is it still available?"},
            headers=m.buyer.headers,
        ),
        201,
    )
    await add_to_cart(client, who=m.buyer, listing_id=listing["id"], quantity=1)
    key_a = await _api_key(client, a_seller, ["orders:read"])
    every_scope = spec["components"]["schemas"]["ApiKeyScope"]["enum"]
    key_c = await _api_key(client, seller_c, every_scope)
    notifications = _ok(await client.get("/v1/notifications", headers=a_seller.headers))
    payout = _ok(await post_payout(client, seller=a_seller, amount=100), 201)
    deliveries = _ok(
        await client.get(
            "/v1/webhooks/deliveries",
            params={"endpoint_id": endpoint["id"]},
            headers=a_seller.headers,
        )
    )
    parcels = _ok(
        await client.get(f"/v1/orders/{completed['id']}/shipments", headers=m.buyer.headers)
    )
    negotiable = await offer_listing(client, market=m, price=2000)
    offer = await make_offer(client, who=m.buyer, listing_id=negotiable["id"], amount=1500)
    rule = _ok(
        await client.post(
            "/v1/admin/commission-rules",
            json={"seller_id": m.seller_id, "percent": 9},
            headers=m.admin.headers,
        ),
        201,
    )
    saved_search = _ok(
        await client.post(
            "/v1/me/saved-searches", json={"name": "Mugs", "query": "mug"}, headers=m.buyer.headers
        ),
        201,
    )
    _ok(
        await client.post(
            "/v1/me/favourites", json={"listing_id": listing["id"]}, headers=m.buyer.headers
        ),
        201,
    )
    ids = {
        "order_id": completed["id"],
        "checkout_id": checkout_id,
        "return_id": returned["id"],
        "review_id": review["id"],
        "dispute_id": dispute["id"],
        "evidence_id": evidence["id"],
        "conversation_id": conversation["id"],
        "listing_id": listing["id"],
        "image_id": pictured["images"][0]["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": deliveries["items"][0]["id"],
        "key_id": key_a["id"],
        "notification_id": notifications["items"][0]["id"],
        "payout_id": payout["id"],
        "seller_id": m.seller_id,
        "user_id": m.buyer.user_id,
        "category_id": m.category_id,
        "shipping_profile_id": shipping_profile["id"],
        "promotion_id": promotion["id"],
        "shipment_id": parcels[0]["id"],
        "provider": "sandbox",
        "rule_id": rule["id"],
        "offer_id": offer["id"],
        "saved_search_id": saved_search["id"],
    }
    assert set(ids) == set(RESOURCE_IDS)
    callers = {
        BUYER_C: await buyer_user(client),
        SELLER_C: seller_c,
        KEY_C: _bearer(seller_c, key_c["key"]),
    }
    return World(m.admin, m.buyer, a_seller, callers, ids)


def _serve(app: FastAPI, database: Database) -> None:
    app.state.database = database
    app.state.category_tree = CategoryTreeCache(app.state.settings.category_tree_ttl)


@pytest.fixture(scope="module")
async def world_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction holding the world for the whole module, rolled back at its end."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        yield connection
        await outer.rollback()


@pytest.fixture(scope="module")
async def world_database(
    settings: Settings, engine: AsyncEngine, world_connection: AsyncConnection
) -> Database:
    sessionmaker = async_sessionmaker(
        bind=world_connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    return Database(settings, engine=engine, sessionmaker=sessionmaker)


@pytest.fixture
async def matrix_client(
    app: FastAPI, world_database: Database, world_connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app on the world; what a case writes is rolled back after it."""
    _serve(app, world_database)
    case = await world_connection.begin_nested()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await case.rollback()


@pytest.fixture(scope="module")
async def world(app: FastAPI, world_database: Database) -> World:
    _serve(app, world_database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await build_world(client, world_database, app.openapi())


# --- the matrix -------------------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for route in ROUTES:
        for caller in CALLERS:
            yield pytest.param(route, caller, id=f"{caller}: {route}")


async def _call(
    client: httpx.AsyncClient, spec: Json, route: Route, who: LoggedIn, ids: dict[str, str]
) -> httpx.Response:
    headers = dict(who.headers)
    if route.method == "POST":
        headers["Idempotency-Key"] = new_key()
    return await client.request(
        route.method, route.url(ids), headers=headers, **request_body(spec, route)
    )


def _answer(response: httpx.Response) -> Expected:
    if response.status_code < 400:
        return response.status_code, None
    code = response.json().get("code")
    return response.status_code, code if isinstance(code, str) else None


@pytest.mark.parametrize(("route", "caller"), list(_cases()))
async def test_a_stranger_cannot_reach_party_as_resources(
    matrix_client: httpx.AsyncClient, app: FastAPI, world: World, route: Route, caller: str
) -> None:
    unknown = [name for name in route.ids if name not in RESOURCE_IDS]
    assert not unknown, (
        f"{route}: nobody decided who owns {unknown}; add them to RESOURCE_IDS and the world "
        "(and the route to PUBLIC if strangers may use it)"
    )
    spec = app.openapi()
    stranger = world.callers[caller]
    response = await _call(matrix_client, spec, route, stranger, world.ids)
    nowhere = {name: str(uuid.uuid4()) for name in route.ids}
    response_for_missing = await _call(matrix_client, spec, route, stranger, nowhere)
    answer, missing = _answer(response), _answer(response_for_missing)

    public = PUBLIC.get((route.method, route.path), {})
    if caller in public:
        assert answer == public[caller], f"{caller}: {route}"
        # The ids are real: where nothing exists the stranger is told something else.
        assert (missing, response_for_missing.content) != (answer, response.content), route
        return

    assert answer == missing, (
        f"{caller} tells A's resource from a missing one on {route}: {answer} vs {missing}"
    )
    status, code = answer
    assert status == 404 or (status == 403 and code in ROLE_GATES), f"{caller}: {answer}"
    admin_route = route.path.startswith(ADMIN_PREFIX)
    if admin_route:
        assert code == ("insufficient_scope" if caller == KEY_C else "admin_required")
    # The ids are real and the route tells A's parties from strangers.
    parties = [world.admin] if admin_route else [world.buyer_a, world.seller_a]
    for party in parties:
        told = _answer(await _call(matrix_client, spec, route, party, world.ids))
        assert told[1] != "validation_error", f"{route}: the body sent is not valid: {told}"
        if told != answer:
            return
    pytest.fail(f"no party of A is told apart from {caller} on {route}: {answer}")
