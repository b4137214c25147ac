"""The one typed settings object. Every knob is an environment variable prefixed MARKETPLACE_."""

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Deliberately recognisable so production can refuse it.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./marketplace.db"

PositiveDuration = Annotated[timedelta, Field(gt=timedelta(0))]


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    """Durations accept seconds (`90`) or ISO 8601 (`PT2S`, `P14D`)."""

    model_config = SettingsConfigDict(env_prefix="MARKETPLACE_", extra="ignore")

    environment: Environment = Environment.development
    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_ttl: PositiveDuration = timedelta(minutes=15)
    refresh_token_ttl: PositiveDuration = timedelta(days=30)

    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window: PositiveDuration = timedelta(minutes=15)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_key_ttl: PositiveDuration = timedelta(hours=24)

    worker_interval: PositiveDuration = timedelta(seconds=5)
    # None means "true in development, false elsewhere" (see worker_runs_in_process).
    run_worker_in_process: bool | None = None

    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def worker_runs_in_process(self) -> bool:
        if self.run_worker_in_process is None:
            return self.environment is Environment.development
        return self.run_worker_in_process

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.environment is Environment.production:
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
                raise ValueError("MARKETPLACE_JWT_SECRET must be set in production")
            if len(self.jwt_secret.get_secret_value()) < 32:
                raise ValueError("MARKETPLACE_JWT_SECRET must be at least 32 characters")
            if self.is_sqlite:
                raise ValueError("SQLite is for development; set a PostgreSQL DATABASE_URL")
        return self


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment; tests build their own `Settings(...)`."""
    return Settings()
