"""/healthz, /readyz (database up and down) and /metrics by route template."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from app.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.factories.api import assert_problem
from tests.factories.apps import PRODUCTION_MAIL_AND_TOTP, client_of_own_app, make_settings

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/nope"


@pytest.fixture
async def database_down_client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_of_own_app(make_settings(UNREACHABLE)) as client:
        yield client


@pytest.fixture
async def fresh_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own: its metrics start from zero (the shared app's have counted every
    earlier test's requests)."""
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def samples(text: str, name: str) -> list[Sample]:
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def value_of(text: str, name: str, **labels: str) -> float:
    matching = [s.value for s in samples(text, name) if s.labels == labels]
    assert len(matching) == 1, f"{name}{labels} not exactly once in:\n{text}"
    return matching[0]


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_503_problem_when_the_database_is_unreachable(
    database_down_client: httpx.AsyncClient,
) -> None:
    response = await database_down_client.get("/readyz")

    problem = assert_problem(response, 503, "database_unavailable")
    assert problem["request_id"] == response.headers["x-request-id"]
    # Nothing about the infrastructure leaks to the caller.
    for leak in ("127.0.0.1", "asyncpg", "postgres", "refused", "OSError"):
        assert leak not in response.text


async def test_healthz_does_not_depend_on_the_database(
    database_down_client: httpx.AsyncClient,
) -> None:
    response = await database_down_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_metrics_count_requests_by_route_template(fresh_client: httpx.AsyncClient) -> None:
    client = fresh_client
    for _ in range(2):
        failed_login = await client.post(
            "/v1/auth/token", data={"username": "nobody@example.com", "password": "x" * 12}
        )
        assert failed_login.status_code == 401
    user_id = uuid.uuid4()
    unauthorised = await client.patch(f"/v1/admin/users/{user_id}", json={"is_admin": True})
    assert unauthorised.status_code == 401
    stray = f"/no-such-{uuid.uuid4().hex}"
    assert (await client.get(stray)).status_code == 404

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        value_of(text, "http_requests_total", method="POST", route="/v1/auth/token", status="401")
        == 2
    )
    assert (
        value_of(
            text,
            "http_requests_total",
            method="PATCH",
            route="/v1/admin/users/{user_id}",
            status="401",
        )
        == 1
    )
    assert (
        value_of(text, "http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    )
    # Concrete ids and unmatched paths never become label values (unbounded cardinality).
    assert str(user_id) not in text
    assert stray not in text


async def test_metrics_have_latency_histograms_by_route(fresh_client: httpx.AsyncClient) -> None:
    client = fresh_client
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200

    text = (await client.get("/metrics")).text

    buckets = [
        s
        for s in samples(text, "http_request_duration_seconds_bucket")
        if s.labels.get("route") == "/healthz" and s.labels.get("method") == "GET"
    ]
    assert len(buckets) >= 2
    assert {s.labels["le"] for s in buckets} >= {"0.005", "1.0", "+Inf"}
    assert max(s.value for s in buckets) == 3
    assert (
        value_of(text, "http_request_duration_seconds_count", method="GET", route="/healthz") == 3
    )
    assert "# TYPE http_request_duration_seconds histogram" in text


async def test_each_app_has_its_own_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    other = create_app(make_settings(UNREACHABLE))
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
        text = (await fresh.get("/metrics")).text
    await other.state.database.dispose()

    assert not [s for s in samples(text, "http_requests_total") if s.labels["route"] == "/healthz"]


METRICS_TOKEN = "metrics-reader-token-Zq8x"
PRODUCTION_SECRET = "kV9-rL2qT7sW4yB1nM6pX3cZ8aF5dH0jK2gE7uR4tY9"


async def _metrics_answer(database: Database, headers: dict[str, str], **overrides: object) -> int:
    # The settings name another URL (production refuses SQLite); the app uses `database`.
    settings = make_settings(UNREACHABLE, **overrides)
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/metrics", headers=headers)
    if response.status_code != 200:
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.status_code


PRODUCTION = {
    "environment": "production",
    "jwt_secret": PRODUCTION_SECRET,
    "password_hash_memory_kib": 19 * 1024,
    **PRODUCTION_MAIL_AND_TOTP,
}


@pytest.mark.parametrize(
    ("overrides", "headers", "status"),
    [
        # Production without a token: no metrics at all.
        (PRODUCTION, {}, 404),
        # With a token, only its bearer reads them, in production and elsewhere.
        ({**PRODUCTION, "metrics_token": METRICS_TOKEN}, {}, 401),
        ({**PRODUCTION, "metrics_token": METRICS_TOKEN}, {"Authorization": "Bearer nope"}, 401),
        (
            {**PRODUCTION, "metrics_token": METRICS_TOKEN},
            {"Authorization": f"Bearer {METRICS_TOKEN}"},
            200,
        ),
        ({"metrics_token": METRICS_TOKEN}, {"Authorization": f"Basic {METRICS_TOKEN}"}, 401),
        # Outside production without a token: open, for a developer's Prometheus.
        ({}, {}, 200),
    ],
)
async def test_metrics_need_the_metrics_token(
    database: Database, overrides: dict[str, object], headers: dict[str, str], status: int
) -> None:
    assert await _metrics_answer(database, headers, **overrides) == status
