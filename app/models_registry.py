"""Imports every model module so `Base.metadata` is complete (Alembic, tests)."""

from app.auth import models as auth_models
from app.core import audit, idempotency
from app.core.models import Base

metadata = Base.metadata

__all__ = ["audit", "auth_models", "idempotency", "metadata"]
