#!/usr/bin/env python3
"""The project's two commands, runnable with nothing but Python 3.11+:

    python3 scripts/dev.py serve   # install, migrate, seed demo data, serve on :8000 (SQLite)
    python3 scripts/dev.py test    # install, lint, type-check, run the whole suite (SQLite)
    python3 scripts/dev.py test --postgres [--postgres-url URL]   # the suite on PostgreSQL

`test` runs the in-process suite, then the outside checks (tests/outside): the product run as
its users run it, in its own processes: a fresh install from the runtime lock, the README's
`serve`, the admin console in headless Chromium, the schemathesis fuzzer.

Everything is installed into ./.venv from the pinned lock files; nothing global is touched.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], cwd=ROOT, env=env, check=True)


def ensure_venv(*, dev: bool) -> None:
    """Create .venv and install the locked dependencies, unless already done for this lock."""
    lock = ROOT / ("requirements-dev.lock" if dev else "requirements.lock")
    digest = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    marker = VENV / f".installed-{lock.stem}-{digest.hexdigest()[:16]}"
    if marker.exists():
        return
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", lock)
    run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "-e",
        ".",
    )
    for old in VENV.glob(".installed-*"):
        old.unlink()
    marker.touch()


def serve(args: argparse.Namespace) -> None:
    ensure_venv(dev=False)
    marketplace = BIN / "marketplace"
    run(marketplace, "migrate")
    run(marketplace, "seed-demo")
    print(
        f"\nAPI on http://{args.host}:{args.port}  —  docs at http://{args.host}:{args.port}/docs\n"
    )
    os.execv(
        marketplace, [str(marketplace), "serve", "--host", args.host, "--port", str(args.port)]
    )


BROWSER_PACKAGES = ("chromium", "chromium-driver")


def install_debian_packages(*packages: str) -> bool:
    """apt-get install `packages` if we may (root with apt-get, as on CI); whether it did."""
    if not (os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get")):
        return False
    quiet_apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-qq", env=quiet_apt)
    run("apt-get", "install", "-y", "-qq", *packages, env=quiet_apt)
    return True


def ensure_browser() -> None:
    """The console test drives Debian's Chromium through its driver: install both when
    missing and we may, otherwise say what is needed."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if not install_debian_packages(*BROWSER_PACKAGES):
        sys.exit(
            "The browser test needs Chromium and ChromeDriver on PATH "
            f"(Debian: apt-get install {' '.join(BROWSER_PACKAGES)}); "
            "or pass --no-outside to skip the outside checks."
        )


def ensure_pgbouncer() -> None:
    """The PostgreSQL run's deployment tests put Debian's PgBouncer between the app and the
    server (a private instance each run; the system service is never used): install it when
    missing and we may. Otherwise those tests skip, or fail where CI is set."""
    if shutil.which("pgbouncer", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])):
        return
    if not install_debian_packages("pgbouncer"):
        print("PgBouncer is not installed (Debian: apt-get install pgbouncer): its tests skip")


def test(args: argparse.Namespace) -> None:
    ensure_venv(dev=True)
    env = dict(os.environ)
    env.pop("MARKETPLACE_TEST_POSTGRES_URL", None)
    if args.postgres:
        env["MARKETPLACE_TEST_POSTGRES_URL"] = args.postgres_url
        ensure_pgbouncer()
    if not args.no_lint:
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        run(BIN / "mypy")
        run(PYTHON, "scripts/check_imports.py")
    if args.pytest_args:  # the caller chose what to run
        run(PYTHON, "-m", "pytest", *args.pytest_args, env=env)
        return
    run(PYTHON, "-m", "pytest", "-m", "not outside", env=env)
    if not args.no_outside:
        ensure_browser()
        # -s: their progress (installs, servers, the browser, the fuzzer's summary per role)
        # is the log a reader of CI needs.
        run(PYTHON, "-m", "pytest", "-m", "outside", "-s", "-v", "tests/outside", env=env)


def lock(_args: argparse.Namespace) -> None:
    """Re-pin every dependency (needs the dev tools)."""
    ensure_venv(dev=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "pip-tools")
    common = (
        "--quiet",
        "--strip-extras",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--no-header",
        "--upgrade",
    )
    run(BIN / "pip-compile", *common, "-o", "requirements.lock", "pyproject.toml")
    run(
        BIN / "pip-compile",
        *common,
        "--extra",
        "dev",
        "-o",
        "requirements-dev.lock",
        "pyproject.toml",
    )


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may meet an older python3
        sys.exit("Python 3.11 or newer is required")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="install, migrate, seed demo data and serve")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.set_defaults(handler=serve)
    test_parser = sub.add_parser("test", help="install, lint, type-check and run the tests")
    test_parser.add_argument(
        "--postgres", action="store_true", help="run against PostgreSQL instead of SQLite"
    )
    test_parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        metavar="URL",
        help=f"the server for --postgres (default {DEFAULT_POSTGRES_URL})",
    )
    test_parser.add_argument("--no-lint", action="store_true", help="skip ruff and mypy")
    test_parser.add_argument(
        "--no-outside",
        action="store_true",
        help="skip the outside checks (fresh install, real server, browser, fuzzer)",
    )
    test_parser.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    test_parser.set_defaults(handler=test)
    sub.add_parser("lock", help="re-pin the lock files").set_defaults(handler=lock)
    args = parser.parse_args()
    try:
        args.handler(args)
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)


if __name__ == "__main__":
    main()
