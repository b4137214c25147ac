"""The `marketplace` command, run as a real process against a throwaway SQLite file."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import PROJECT_ROOT, build_parser
from app.core.db import Database
from app.core.mail.queue import queue
from app.demo import DEMO_ACCOUNTS
from tests.factories.apps import make_settings
from tests.factories.cli import Cli

RESET = "http://localhost:8000/reset-password"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per module; each test gets its own copy of the file."""
    template = Cli(tmp_path_factory.mktemp("cli-template"))
    result = template.run("migrate")
    assert result.returncode == 0, result.stderr
    return template.database


@pytest.fixture
def migrated(cli: Cli, migrated_template: Path) -> Cli:
    shutil.copyfile(migrated_template, cli.database)
    return cli


def test_help_lists_every_command(cli: Cli) -> None:
    result = cli.run("--help")

    assert result.returncode == 0
    for command in (
        "serve",
        "migrate",
        "worker",
        "create-admin",
        "seed-demo",
        "mail",
        "openapi",
    ):
        assert command in result.stdout


def test_serve_has_its_options(cli: Cli) -> None:
    result = cli.run("serve", "--help")

    assert result.returncode == 0
    for option in ("--host", "--port", "--workers", "--migrate"):
        assert option in result.stdout


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_serve_needs_at_least_one_worker(workers: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--workers", workers])

    assert exited.value.code == 2
    assert f"{workers} is not a positive number" in capsys.readouterr().err


def test_unknown_command_exits_2(cli: Cli) -> None:
    result = cli.run("frobnicate")

    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_migrate_builds_the_schema(cli: Cli) -> None:
    result = cli.run("migrate")

    assert result.returncode == 0, result.stderr
    tables = {row[0] for row in cli.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "idempotency_records", "alembic_version"} <= tables
    assert cli.query("SELECT count(*) FROM alembic_version") == [(1,)]
    # Running it again is a no-op.
    assert cli.run("migrate").returncode == 0


def test_create_admin(migrated: Cli) -> None:
    result = migrated.run("create-admin", "A@example.com", "--password", "long-enough-pw")

    assert result.returncode == 0, result.stderr
    assert "a@example.com" in result.stdout
    assert migrated.query("SELECT email, is_admin FROM users") == [("a@example.com", 1)]


def test_create_admin_reads_the_password_from_the_environment(migrated: Cli) -> None:
    result = migrated.run(
        "create-admin", "env@example.com", MARKETPLACE_ADMIN_PASSWORD="from-the-environment"
    )

    assert result.returncode == 0, result.stderr
    assert "env@example.com" in result.stdout
    hashes = migrated.query("SELECT password_hash FROM users WHERE email = 'env@example.com'")
    assert len(hashes) == 1
    assert "from-the-environment" not in str(hashes[0][0])


def test_create_admin_promotes_an_existing_account(migrated: Cli) -> None:
    assert (
        migrated.run("create-admin", "a@example.com", "--password", "long-enough-pw").returncode
        == 0
    )

    again = migrated.run("create-admin", "a@example.com", "--password", "long-enough-pw")

    assert again.returncode == 0, again.stderr
    assert migrated.query("SELECT count(*) FROM users") == [(1,)]


def test_create_admin_refuses_a_short_password(migrated: Cli) -> None:
    result = migrated.run("create-admin", "a@example.com", "--password", "short")

    assert result.returncode == 2
    assert "refused" in result.stderr
    assert "10 characters" in result.stderr
    assert "Traceback" not in result.stderr
    assert migrated.query("SELECT count(*) FROM users") == [(0,)]


def test_seed_demo_is_idempotent(migrated: Cli) -> None:
    first = migrated.run("seed-demo")

    assert first.returncode == 0, first.stderr
    assert "demo data created" in first.stdout
    for account in DEMO_ACCOUNTS:
        assert account.email in first.stdout
        assert account.password in first.stdout
    assert migrated.query("SELECT count(*) FROM users") == [(3,)]

    second = migrated.run("seed-demo")

    assert second.returncode == 0, second.stderr
    assert "already present" in second.stdout
    assert migrated.query("SELECT count(*) FROM users") == [(3,)]
    admins = migrated.query("SELECT email FROM users WHERE is_admin")
    assert admins == [("admin@example.com",)]


def test_worker_once_prints_its_job_counts(migrated: Cli) -> None:
    result = migrated.run("worker", "--once")

    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert {
        "purge_expired_sessions",
        "purge_expired_idempotency_keys",
        "answer_password_resets",
        "deliver_mail",
        "purge_finished_mail",
    } <= set(counts)
    assert all(isinstance(v, int) and v == 0 for v in counts.values()), counts


async def _queue_mail(cli: Cli, *, to: str, name: str) -> None:
    """A mail queued in the CLI's database by the app's own code (what a registration does)."""
    database = Database(make_settings(f"sqlite+aiosqlite:///{cli.database}"))
    try:
        async with database.session_scope() as session:
            queue(
                session,
                to=to,
                template="password_changed",
                context={"display_name": name, "how": "from the CLI test", "reset_link": RESET},
                user_id=None,
            )
    finally:
        await database.dispose()


async def test_mail_shows_the_newest_mail_whole_with_the_console_backend(migrated: Cli) -> None:
    empty = migrated.run("mail")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == "no mail"
    await _queue_mail(migrated, to="ada@example.com", name="Ada")
    await _queue_mail(migrated, to="grace@example.com", name="Grace")

    shown = migrated.run("mail", "--to", "ADA@example.com")
    newest = migrated.run("mail", "--limit", "1")

    assert shown.returncode == 0, shown.stderr
    assert "to ada@example.com" in shown.stdout
    assert "Subject: Your password was changed" in shown.stdout
    assert "Hello Ada" in shown.stdout
    assert RESET in shown.stdout
    assert "grace@example.com" not in shown.stdout
    assert newest.returncode == 0, newest.stderr
    assert "to grace@example.com" in newest.stdout
    assert "ada@example.com" not in newest.stdout
    assert migrated.run("mail", "--limit", "0").returncode == 2


def test_openapi_writes_the_spec(cli: Cli, tmp_path: Path) -> None:
    output = tmp_path / "out" / "spec.json"

    result = cli.run("openapi", "--output", str(output))

    assert result.returncode == 0, result.stderr
    assert str(output) in result.stdout
    spec = json.loads(output.read_text())
    assert spec["openapi"].startswith("3.")
    assert "/v1/auth/register" in spec["paths"]
    assert output.read_text().endswith("}\n")


def test_production_with_the_default_secret_refuses_to_start(cli: Cli) -> None:
    result = cli.run("migrate", MARKETPLACE_ENVIRONMENT="production")

    assert result.returncode != 0
    assert "MARKETPLACE_JWT_SECRET must be set in production" in result.stderr
    assert not cli.database.exists()


def test_production_refusal_names_the_rule_without_pydantic_noise(cli: Cli) -> None:
    result = cli.run("migrate", MARKETPLACE_ENVIRONMENT="production")

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "refusing to start: MARKETPLACE_JWT_SECRET must be set in production"
    )


def test_migrate_without_the_migrations_beside_the_package_fails_clearly(
    cli: Cli, tmp_path: Path
) -> None:
    """A wheel holds only the `app` package: migrating from such an install must fail loudly
    (exit status and reason), not half-work."""
    installed = tmp_path / "site-packages"
    shutil.copytree(PROJECT_ROOT / "app", installed / "app")
    cli.env["PYTHONPATH"] = str(installed)

    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=tmp_path,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    assert "alembic.ini and migrations/ are not beside the app package" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.database.exists()
