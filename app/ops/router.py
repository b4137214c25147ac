import asyncio
import logging
import secrets

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.config import Environment, Settings
from app.core.db import Database, DatabaseUnavailable
from app.core.errors import NotFound, error_responses
from app.ops.exceptions import InvalidMetricsToken

logger = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])

READINESS_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up (no dependency is checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=error_responses(DatabaseUnavailable))
async def readyz(request: Request) -> Health:
    """Ready to serve: the database answers within two seconds."""
    database: Database = request.app.state.database
    try:
        await asyncio.wait_for(database.ping(), READINESS_TIMEOUT_SECONDS)
    except Exception as error:  # any failure to reach the database means "not ready"
        logger.warning("readiness check failed: %s", type(error).__name__)
        raise DatabaseUnavailable() from error
    return Health(status="ok")


def _check_metrics_access(settings: Settings, authorization: str) -> None:
    """With MARKETPLACE_METRICS_TOKEN set, only its bearer reads the metrics; unset, they are
    open outside production and absent in production."""
    expected = settings.metrics_token
    if expected is None:
        if settings.environment is Environment.production:
            raise NotFound()
        return
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        presented.encode(), expected.get_secret_value().encode()
    ):
        raise InvalidMetricsToken()


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus text",
        },
        **error_responses(InvalidMetricsToken, NotFound),
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: request counts and latency histograms by route template.

    Needs `Authorization: Bearer <MARKETPLACE_METRICS_TOKEN>` when that setting is set; in
    production without it, there are no metrics (404)."""
    _check_metrics_access(request.app.state.settings, request.headers.get("authorization", ""))
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
