"""The `marketplace` command: serve, migrate, worker, create-admin, seed-demo, mail, openapi."""

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic import ValidationError

from app.config import Environment, Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = PROJECT_ROOT / "openapi" / "openapi.json"


class MissingMigrations(RuntimeError):
    """The migrations ship beside the `app` package, in the source tree (as in the image),
    not inside a wheel."""


def alembic_config(settings: Settings) -> Config:
    if not (PROJECT_ROOT / "alembic.ini").is_file() or not (PROJECT_ROOT / "migrations").is_dir():
        raise MissingMigrations(
            f"alembic.ini and migrations/ are not beside the app package in {PROJECT_ROOT}: "
            "run the marketplace command from the source tree (an editable install, or "
            "PYTHONPATH=<the tree> as the Docker image does)"
        )
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["settings"] = settings
    return config


def migrate(settings: Settings, revision: str = "head") -> None:
    """Upgrade the schema (Alembic is the only way the schema is created)."""
    command.upgrade(alembic_config(settings), revision)


def _cmd_migrate(args: argparse.Namespace) -> int:
    migrate(get_settings(), args.revision)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # Media URLs are absolute under the API's public URL: outside production, unless the
    # operator named it, it is where this server listens (the factory reads it from the
    # environment, in every worker process). Production must name it (see Settings).
    production = os.environ.get("MARKETPLACE_ENVIRONMENT", "").lower() == "production"
    if "MARKETPLACE_PUBLIC_URL" not in os.environ and not production:
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        host = f"[{host}]" if ":" in host else host
        os.environ["MARKETPLACE_PUBLIC_URL"] = f"http://{host}:{args.port}"
        get_settings.cache_clear()
    settings = get_settings()
    if args.migrate:
        migrate(settings)
    # An import string and a factory, not an app object: with --workers N uvicorn starts N
    # processes, and each builds its own app (its own engine and pool) from the environment.
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # X-Forwarded-For/-Proto only from the proxies the operator names (uvicorn would
        # otherwise trust any loopback peer, and a client there could pick its own address
        # and so its own rate-limit budget).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=[str(network) for network in settings.trusted_proxies] or None,
        log_config=None,  # our JSON logging, configured by create_app
    )
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from app.core.db import Database
    from app.payments.provider import SandboxProvider
    from app.worker.runner import WorkerContext, run_forever, run_once

    settings = get_settings()

    async def main() -> None:
        database = Database(settings)
        context = WorkerContext(database, settings, SandboxProvider())
        try:
            if args.once:
                print(json.dumps(await run_once(context)))
                return
            task = asyncio.create_task(run_forever(context))
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, task.cancel)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            await database.dispose()

    asyncio.run(main())
    logging.getLogger("app.worker").info("worker stopped")
    return 0


def _cmd_create_admin(args: argparse.Namespace) -> int:
    from app.auth.service import create_admin
    from app.core.db import Database

    password = args.password or os.environ.get("MARKETPLACE_ADMIN_PASSWORD")
    if not password:
        password = getpass.getpass("Password for the new admin: ")
    settings = get_settings()

    async def main() -> None:
        database = Database(settings)
        try:
            async with database.session_scope() as session:
                user = await create_admin(
                    session, email=args.email, password=password, name=args.name
                )
            print(f"admin ready: {user.email} ({user.id})")
        finally:
            await database.dispose()

    try:
        asyncio.run(main())
    except ValidationError as error:
        print(f"refused: {error.errors()[0]['msg']}", file=sys.stderr)
        return 2
    return 0


def _cmd_seed_demo(_args: argparse.Namespace) -> int:
    from app.core.db import Database
    from app.demo import DEMO_ACCOUNTS, seed_demo

    settings = get_settings()

    async def main() -> bool:
        database = Database(settings)
        try:
            async with database.session_scope() as session:
                return await seed_demo(session, settings)
        finally:
            await database.dispose()

    created = asyncio.run(main())
    print("demo data " + ("created" if created else "already present") + "; log in at /docs with:")
    for account in DEMO_ACCOUNTS:
        print(f"  {account.role:<7} {account.email:<24} {account.password}")
    return 0


def _cmd_mail(args: argparse.Namespace) -> int:
    """The newest queued and sent mail, whole while the console backend keeps it: how a
    developer follows a verification or reset link without a mail server."""
    from app.core.db import Database
    from app.core.mail.repository import MailRepository

    settings = get_settings()

    async def main() -> list[str]:
        database = Database(settings)
        try:
            async with database.session_scope() as session:
                messages = await MailRepository(session).recent(args.limit, args.to)
        finally:
            await database.dispose()
        return [
            f"=== {m.created_at:%Y-%m-%d %H:%M:%S} UTC  {m.status}  to {m.to_address}\n"
            f"Subject: {m.subject}\n\n{m.text_body or '(body wiped once sent)'}"
            for m in reversed(messages)
        ]

    shown = asyncio.run(main())
    print("\n".join(shown) if shown else "no mail")
    return 0


def write_openapi(path: Path = OPENAPI_PATH) -> str:
    """Render the spec exactly as committed (sorted keys, trailing newline)."""
    from app.main import create_app

    app = create_app(Settings(environment=Environment.test))
    text = json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def _cmd_openapi(args: argparse.Namespace) -> int:
    write_openapi(Path(args.output))
    print(f"wrote {args.output}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketplace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="API processes (uvicorn workers) sharing the port; in production about one per "
        "CPU core. Background jobs run in `marketplace worker` processes (any number)",
    )
    serve.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    serve.set_defaults(handler=_cmd_serve)

    mig = sub.add_parser("migrate", help="upgrade the database schema")
    mig.add_argument("revision", nargs="?", default="head")
    mig.set_defaults(handler=_cmd_migrate)

    worker = sub.add_parser("worker", help="run the background sweeps")
    worker.add_argument("--once", action="store_true", help="one sweep, then exit")
    worker.set_defaults(handler=_cmd_worker)

    admin = sub.add_parser("create-admin", help="create an admin (or promote an account)")
    admin.add_argument("email")
    admin.add_argument("--name", default="Administrator")
    admin.add_argument("--password", help="else MARKETPLACE_ADMIN_PASSWORD, else prompted")
    admin.set_defaults(handler=_cmd_create_admin)

    seed = sub.add_parser("seed-demo", help="load demo accounts and data (idempotent)")
    seed.set_defaults(handler=_cmd_seed_demo)

    mail = sub.add_parser(
        "mail", help="show the newest mail (whole with MARKETPLACE_EMAIL_BACKEND=console)"
    )
    mail.add_argument("--to", help="only mail to this address")
    mail.add_argument("--limit", type=_positive_int, default=5)
    mail.set_defaults(handler=_cmd_mail)

    spec = sub.add_parser("openapi", help="write the OpenAPI spec")
    spec.add_argument("--output", default=str(OPENAPI_PATH))
    spec.set_defaults(handler=_cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from app.core.process import configure_process

    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:
        # e.g. production with the default secret: say what is wrong, without a traceback.
        print(f"refusing to start: {_describe(error)}", file=sys.stderr)
        return 2
    configure_process(settings)
    # Every command that changes data (worker, demo seed) must feed notifications and
    # webhooks the same way the API does.
    from app.messaging import subscriptions

    subscriptions.install()
    try:
        return int(args.handler(args))
    except MissingMigrations as error:
        print(f"cannot migrate: {error}", file=sys.stderr)
        return 2


def _describe(error: ValidationError) -> str:
    """Each problem as `field: message`; a rule across fields has no location, and
    pydantic's "Value error, " prefix says nothing to an operator."""
    problems = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        location = ".".join(map(str, problem["loc"]))
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)


if __name__ == "__main__":
    sys.exit(main())
