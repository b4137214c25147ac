"""Process-wide setup from settings: logging and password-hashing cost. Called once by
every entry point (the API factory, the CLI commands)."""

from app.config import Settings
from app.core.observability import configure_logging
from app.core.security import configure_password_hashing


def configure_process(settings: Settings) -> None:
    configure_logging(settings.log_level, json_logs=settings.log_json)
    configure_password_hashing(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
