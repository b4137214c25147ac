"""Settings: production safety checks and durations from MARKETPLACE_* environment variables."""

import os
from datetime import timedelta

import pytest
from pydantic import ValidationError

from app.config import DEV_JWT_SECRET, EmailBackend, Environment, Settings

POSTGRES = "postgresql+asyncpg://app:pw@db.internal:5432/marketplace"
STRONG_SECRET = "kV9-rL2qT7sW4yB1nM6pX3cZ8aF5dH0j"
SMTP_PASSWORD = "Smtp-pw-7XqL2v"
TOTP_KEY = "Zq4-hT8wLm2vXc6pRn0bKj5sDy9gFa3e"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets itself: no MARKETPLACE_* leaking in from the shell."""
    for name in list(os.environ):
        if name.startswith("MARKETPLACE_"):
            monkeypatch.delenv(name)


def test_defaults_are_a_working_development_setup() -> None:
    settings = Settings()

    assert settings.environment is Environment.development
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert settings.is_sqlite
    assert settings.worker_runs_in_process
    assert settings.idempotency_key_ttl == timedelta(hours=24)
    assert settings.max_body_bytes == 1024 * 1024


def test_production_refuses_the_default_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="MARKETPLACE_JWT_SECRET must be set"):
        Settings(environment=Environment.production, database_url=POSTGRES)


def test_production_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(environment=Environment.production, database_url=POSTGRES, jwt_secret="s" * 31)


@pytest.mark.parametrize(
    "guessable",
    [
        "a" * 40,
        "password1234567890password1234567890",
        "my company jwt secret for production 2026",
        "qwertyuiopasdfghjklzxcvbnm1234567890",
    ],
)
def test_production_refuses_a_long_but_guessable_jwt_secret(guessable: str) -> None:
    with pytest.raises(ValidationError, match="too guessable") as caught:
        Settings(environment=Environment.production, database_url=POSTGRES, jwt_secret=guessable)

    assert guessable not in str(caught.value)


def test_refusal_does_not_echo_the_secret() -> None:
    secret = "short-but-secret-Xq7"
    with pytest.raises(ValidationError) as caught:
        Settings(environment=Environment.production, database_url=POSTGRES, jwt_secret=secret)

    assert secret not in str(caught.value)


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ValidationError, match="SQLite"):
        Settings(
            environment=Environment.production,
            database_url="sqlite+aiosqlite:///./prod.db",
            jwt_secret=STRONG_SECRET,
        )


def test_production_requires_the_public_url() -> None:
    with pytest.raises(ValidationError, match="MARKETPLACE_PUBLIC_URL must be set"):
        Settings(
            environment=Environment.production,
            database_url=POSTGRES,
            jwt_secret=STRONG_SECRET,
            password_hash_memory_kib=19 * 1024,
        )


def test_production_refusal_also_applies_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "production")
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", POSTGRES)

    with pytest.raises(ValidationError, match="MARKETPLACE_JWT_SECRET"):
        Settings()


def test_a_safe_production_configuration_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "production")
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("MARKETPLACE_JWT_SECRET", STRONG_SECRET)
    monkeypatch.setenv("MARKETPLACE_PUBLIC_URL", "https://api.example.com")
    monkeypatch.setenv("MARKETPLACE_EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("MARKETPLACE_SMTP_URL", f"smtp://mailer:{SMTP_PASSWORD}@smtp.example.com")
    monkeypatch.setenv("MARKETPLACE_TOTP_ENCRYPTION_KEY", TOTP_KEY)

    settings = Settings()

    assert settings.environment is Environment.production
    assert not settings.is_sqlite
    assert not settings.worker_runs_in_process
    assert settings.mail_backend is EmailBackend.smtp
    assert settings.verified_email_required
    # The secrets are never shown by the settings object itself.
    for secret in (STRONG_SECRET, SMTP_PASSWORD, TOTP_KEY):
        assert secret not in repr(settings)
        assert secret not in str(settings)


@pytest.mark.parametrize("backend", [None, EmailBackend.console])
def test_production_refuses_the_console_mail_backend(backend: EmailBackend | None) -> None:
    """It keeps whole mails, reset links included, in the database."""
    with pytest.raises(ValidationError, match="MARKETPLACE_EMAIL_BACKEND must be smtp"):
        Settings(
            environment=Environment.production,
            database_url=POSTGRES,
            jwt_secret=STRONG_SECRET,
            password_hash_memory_kib=19 * 1024,
            public_url="https://api.example.com",
            email_backend=backend,
            totp_encryption_key=TOTP_KEY,
        )


def test_the_smtp_backend_needs_a_server() -> None:
    with pytest.raises(ValidationError, match="MARKETPLACE_SMTP_URL"):
        Settings(email_backend=EmailBackend.smtp)


@pytest.mark.parametrize(
    "url", ["http://smtp.example.com", "smtp://", "smtp://host/path", "smtp://a b@host"]
)
def test_an_smtp_url_must_name_a_server(url: str) -> None:
    with pytest.raises(ValidationError, match="an SMTP URL is"):
        Settings(email_backend=EmailBackend.smtp, smtp_url=url)


def test_outside_production_mail_goes_to_the_console_and_verification_is_optional() -> None:
    settings = Settings(environment=Environment.development)

    assert settings.mail_backend is EmailBackend.console
    assert not settings.verified_email_required
    assert Settings(require_verified_email=True).verified_email_required


@pytest.mark.parametrize("environment", [Environment.development, Environment.test])
def test_other_environments_accept_the_development_defaults(environment: Environment) -> None:
    settings = Settings(environment=environment)

    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("MARKETPLACE_IDEMPOTENCY_KEY_TTL", "PT2S", "idempotency_key_ttl", timedelta(seconds=2)),
        ("MARKETPLACE_REFRESH_TOKEN_TTL", "P14D", "refresh_token_ttl", timedelta(days=14)),
        ("MARKETPLACE_ACCESS_TOKEN_TTL", "PT15M", "access_token_ttl", timedelta(minutes=15)),
        (
            "MARKETPLACE_LOGIN_FAILURE_WINDOW",
            "PT1H30M",
            "login_failure_window",
            timedelta(hours=1, minutes=30),
        ),
        ("MARKETPLACE_WORKER_INTERVAL", "90", "worker_interval", timedelta(seconds=90)),
        ("MARKETPLACE_WORKER_INTERVAL", "2", "worker_interval", timedelta(seconds=2)),
        ("MARKETPLACE_ACCESS_TOKEN_TTL", "1.5", "access_token_ttl", timedelta(seconds=1.5)),
        ("MARKETPLACE_REFRESH_TOKEN_TTL", "1209600", "refresh_token_ttl", timedelta(days=14)),
    ],
)
def test_durations_accept_seconds_and_iso_8601_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: timedelta
) -> None:
    monkeypatch.setenv(variable, raw)

    assert getattr(Settings(), field) == expected


@pytest.mark.parametrize("raw", ["0", "PT0S", "-5", "-PT1S", "soon"])
def test_durations_must_be_positive_and_well_formed(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("MARKETPLACE_WORKER_INTERVAL", raw)

    with pytest.raises(ValidationError, match="worker_interval"):
        Settings()


def test_body_limit_has_a_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_MAX_BODY_BYTES", "1023")

    with pytest.raises(ValidationError, match="max_body_bytes"):
        Settings()


@pytest.mark.parametrize(
    ("environment", "flag", "expected"),
    [
        ("development", None, True),
        ("test", None, False),
        ("development", "false", False),
        ("test", "true", True),
    ],
)
def test_in_process_worker_follows_the_environment_unless_set(
    monkeypatch: pytest.MonkeyPatch, environment: str, flag: str | None, expected: bool
) -> None:
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", environment)
    if flag is not None:
        monkeypatch.setenv("MARKETPLACE_RUN_WORKER_IN_PROCESS", flag)

    assert Settings().worker_runs_in_process is expected


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "staging")

    with pytest.raises(ValidationError, match="environment"):
        Settings()
