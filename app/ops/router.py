import asyncio
import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.core.db import Database, DatabaseUnavailable
from app.core.errors import error_responses

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


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus text",
        }
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: request counts and latency histograms by route template."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
