"""The product installed the way it ships, with nothing of the development environment.

A virtualenv made fresh for this run gets `requirements.lock` only, then the project itself
(`pip install --no-deps .`, not editable): every module under app/ must import from there, so a
dependency that app/ uses but the runtime lock lacks (one only the dev lock brings) fails here.
The `marketplace` commands then migrate, seed, serve and sweep from that venv. Last, the
Dockerfile's steps without Docker: a venv with only the lock, the source tree read-only, a
non-root user, production settings.

`pip install .` alone cannot migrate: the CLI finds alembic.ini and migrations/ next to the
`app` package (app/cli.py: PROJECT_ROOT), and the wheel carries neither. So the commands run
with PYTHONPATH on a copy of the source tree, as the image does (PYTHONPATH=/srv/app) and as
the README's editable install does in effect.
"""

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from app.config import DEV_JWT_SECRET
from app.demo import LISTINGS
from tests.outside.live import (
    DEMO_PASSWORDS,
    LiveServer,
    copy_tracked_files,
    login,
    progress,
    system_environment,
    system_python3,
)
from tests.outside.live import (
    check_run as run_to_completion,
)

if TYPE_CHECKING:
    from tests.conftest import ScratchDatabases

INSTALL_TIMEOUT_SECONDS = 600.0
SHORT_COMMAND_TIMEOUT_SECONDS = 120.0
# The Dockerfile's `USER 10001:10001`; setpriv needs no account for it, as Docker doesn't.
APP_UID = APP_GID = 10001
# What the Dockerfile copies into /srv/app.
IMAGE_TREE = ("alembic.ini", "pyproject.toml", "migrations/", "app/")
# What any venv holds before anything is installed into it.
VENV_BOOTSTRAP = frozenset({"pip", "setuptools", "wheel"})
# A word of the demo catalog (app/demo.py) that both SQLite's substring search and
# PostgreSQL's full-text search find.
SEARCH_WORD = "thinkpad"

VERSION_AND_PREFIX = "import sys; print(sys.version_info >= (3, 11), sys.base_prefix)"
# Run by the fresh venv's interpreter: imports each module named on the command line and
# reports, as JSON, which failed, where `app` came from and which distributions are installed.
IMPORT_EVERY_MODULE = """
import importlib, importlib.metadata, importlib.util, json, sys, traceback
failures = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as error:  # SystemExit too: importing must have no such effect
        failures[name] = traceback.format_exception_only(type(error), error)[-1].strip()
print(json.dumps({
    "failures": failures,
    "app_origin": importlib.util.find_spec("app").origin,
    "site_packages": [p for p in sys.path if p.endswith("site-packages")],
    "distributions": sorted({d.metadata["Name"] for d in importlib.metadata.distributions()}),
}))
"""


@dataclass(frozen=True)
class Workspace:
    """Everything the fresh installs need, under one folder every user may read."""

    root: Path
    source: Path  # the tracked files, as a clean clone would have them
    tree: Path  # the image's /srv/app: IMAGE_TREE only, read-only
    interpreter: Path


def check_run(command: Sequence[str | Path], *, cwd: Path, timeout: float) -> str:
    """Run to completion with the system environment; its stdout, or a failure with output."""
    return run_to_completion(command, cwd=cwd, env=system_environment(), timeout=timeout)


def open_to_everyone(path: Path) -> bool:
    """Whether any user can reach `path` (search every folder above it) and read it."""
    resolved = path.resolve()
    for folder in resolved.parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(resolved.stat().st_mode & stat.S_IROTH)


def pick_interpreter() -> Path:
    """The `python3` on PATH, unless the image's non-root user could not run it (pyenv under a
    0700 /root, as on CI): then a system interpreter that user can run, as the image's user
    runs /usr/local/bin/python."""
    candidates = [system_python3()]
    if os.geteuid() == 0:
        candidates += [Path("/usr/local/bin/python3"), Path("/usr/bin/python3")]
    for candidate in candidates:
        if not candidate.exists():
            continue
        probe = subprocess.run(
            [str(candidate), "-c", VERSION_AND_PREFIX],
            capture_output=True,
            text=True,
            timeout=SHORT_COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        recent_enough, _, base_prefix = probe.stdout.strip().partition(" ")
        if probe.returncode != 0 or recent_enough != "True":
            continue
        if os.geteuid() != 0 or (
            open_to_everyone(candidate) and open_to_everyone(Path(base_prefix) / "lib")
        ):
            return candidate
    raise AssertionError(
        f"none of {', '.join(map(str, candidates))} is a Python 3.11+ that a non-root user can run"
    )


def set_tree_mode(tree: Path, *, writable: bool) -> None:
    """Read-only (the image's code is root's; its user only reads it) or writable again."""
    for folder, _, files in os.walk(tree):
        Path(folder).chmod(0o755 if writable else 0o555)
        for name in files:
            file = Path(folder) / name
            executable = file.stat().st_mode & stat.S_IXUSR
            file.chmod((0o644 if writable else 0o444) | (0o111 if executable else 0))


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    # Not pytest's tmp_path: that sits under a 0700 folder the image's user could not enter.
    root = Path(tempfile.mkdtemp(prefix="marketplace-fresh-"))
    root.chmod(0o755)
    tree = root / "srv-app"
    try:
        source = root / "source"
        copied = copy_tracked_files(source)
        copy_tracked_files(tree, only=IMAGE_TREE)
        set_tree_mode(tree, writable=False)
        interpreter = pick_interpreter()
        progress(f"\nfresh runtime: {copied} tracked files copied; interpreter {interpreter}")
        yield Workspace(root=root, source=source, tree=tree, interpreter=interpreter)
    finally:
        if tree.exists():
            set_tree_mode(tree, writable=True)
        shutil.rmtree(root, ignore_errors=True)


def build_venv(workspace: Workspace, name: str, *installs: Sequence[str]) -> Path:
    """A new venv made by `python3 -m venv`, then one `pip install` per entry of `installs`."""
    venv = workspace.root / name
    started = time.monotonic()
    check_run(
        [workspace.interpreter, "-m", "venv", venv],
        cwd=workspace.root,
        timeout=SHORT_COMMAND_TIMEOUT_SECONDS,
    )
    for arguments in installs:
        check_run(
            [venv / "bin" / "python", "-m", "pip", "install", "--quiet", *arguments],
            cwd=workspace.root,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    described = " + ".join(" ".join(arguments) for arguments in installs).replace(
        f"{workspace.root}/", ""
    )
    progress(f"fresh runtime: venv {name} ({described}) in {time.monotonic() - started:.1f} s")
    return venv


@pytest.fixture(scope="module")
def installed_venv(workspace: Workspace) -> Path:
    """requirements.lock, then the project itself, not editable and without its dependencies
    (they come from the lock alone)."""
    return build_venv(
        workspace,
        "installed-venv",
        ["-r", str(workspace.source / "requirements.lock")],
        ["--no-deps", str(workspace.source)],
    )


@pytest.fixture(scope="module")
def image_venv(workspace: Workspace) -> Path:
    """The image's /opt/venv: requirements.lock and nothing else, not even the project (the
    image runs the code from /srv/app, so a venv holding the project could hide a fault)."""
    venv = build_venv(workspace, "image-venv", ["-r", str(workspace.source / "requirements.lock")])
    # The image's user reads what root installed, whatever umask the installing shell had.
    subprocess.run(["chmod", "-R", "a+rX", str(venv)], check=True, timeout=60)
    return venv


def app_modules(source: Path) -> list[str]:
    """Every module of the app package in the source tree (so a module the wheel left out
    fails to import too)."""
    modules = []
    for file in sorted((source / "app").rglob("*.py")):
        parts = file.relative_to(source).with_suffix("").parts
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def lock_names(lock: Path) -> set[str]:
    return {
        canonical(line.split("==")[0])
        for line in lock.read_text().splitlines()
        if line and not line.startswith((" ", "#", "-"))
    }


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_app_module_imports_from_the_installed_package(
    workspace: Workspace, installed_venv: Path
) -> None:
    modules = app_modules(workspace.source)
    assert len(modules) > 50, modules  # the walk found the package, not an empty folder
    result = subprocess.run(
        # -I: neither PYTHONPATH nor the current folder may supply `app`; only site-packages.
        [str(installed_venv / "bin" / "python"), "-I", "-c", IMPORT_EVERY_MODULE, *modules],
        cwd=workspace.root,
        env=system_environment(),
        capture_output=True,
        text=True,
        timeout=SHORT_COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    exit_code = result.returncode  # (pytest would print the whole command line otherwise)
    assert exit_code == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    site_packages = [Path(p) for p in report["site_packages"]]
    app_origin = Path(report["app_origin"])
    assert any(app_origin.is_relative_to(p) for p in site_packages), (
        f"`app` was imported from {app_origin}, not from the venv's site-packages"
    )
    expected = lock_names(workspace.source / "requirements.lock") | {"marketplace"}
    installed = {canonical(name) for name in report["distributions"]} - VENV_BOOTSTRAP
    assert installed == expected, (
        "the fresh venv should hold requirements.lock and the project, nothing else: "
        f"extra {sorted(installed - expected)}, missing {sorted(expected - installed)}"
    )
    failures: dict[str, str] = report["failures"]
    assert not failures, (
        f"{len(failures)} of {len(modules)} modules fail to import with only requirements.lock "
        "installed (a dependency missing from the lock? a module never `git add`ed?):\n"
        + "\n".join(f"  {module}: {error}" for module, error in failures.items())
    )
    progress(f"fresh runtime: imported {len(modules)} modules under app/ from {app_origin.parent}")


def check_demo_server(base_url: str) -> None:
    """What a newcomer does first: is it up, log in, look around, search, open the docs."""
    assert httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200
    ready = httpx.get(f"{base_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text

    token = login(base_url, "buyer")
    me = httpx.get(f"{base_url}/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == DEMO_PASSWORDS["buyer"][0]

    expected = {title for _, title, *_ in LISTINGS if SEARCH_WORD in title.lower()}
    assert expected, f"the demo catalog has no listing titled with {SEARCH_WORD!r}"
    search = httpx.get(f"{base_url}/v1/listings", params={"q": SEARCH_WORD}, timeout=10)
    assert search.status_code == 200, search.text
    found = {item["title"] for item in search.json()["items"]}
    assert expected <= found, f"searching {SEARCH_WORD!r} found {sorted(found)}"

    docs = httpx.get(f"{base_url}/docs", timeout=10)
    assert docs.status_code == 200, docs.text[:500]
    # Swagger UI's JS and CSS are package data of a runtime dependency: they must be there.
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', docs.text)
    assert any(asset.endswith(".js") for asset in assets), docs.text[:2000]
    for asset in assets:
        response = httpx.get(f"{base_url}{asset}", timeout=10)
        assert response.status_code == 200, f"{asset}: {response.status_code}"
    spec = httpx.get(f"{base_url}/openapi.json", timeout=30)
    assert spec.status_code == 200
    assert spec.json()["paths"]


def worker_sweep(live: LiveServer) -> dict[str, int]:
    """`worker --once` prints one JSON object: what each sweep did."""
    result: dict[str, int] = json.loads(live.run("worker", "--once"))
    assert result, "the worker ran no sweep"
    assert all(isinstance(count, int) for count in result.values()), result
    return result


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres_only)]
)
def test_installed_commands_serve_the_demo(
    database: str,
    workspace: Workspace,
    installed_venv: Path,
    scratch_databases: "ScratchDatabases",
    tmp_path: Path,
) -> None:
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'marketplace.db'}"
    else:
        url = scratch_databases.new_url()
        assert url.startswith("postgresql"), url
    live = LiveServer(
        command=[str(installed_venv / "bin" / "marketplace")],
        env=system_environment(
            MARKETPLACE_DATABASE_URL=url,
            MARKETPLACE_MEDIA_DIR=str(tmp_path / "media"),
            # The installed package cannot find its migrations; the source tree can.
            PYTHONPATH=str(workspace.tree),
            PYTHONDONTWRITEBYTECODE="1",
        ),
        cwd=tmp_path,
        log_path=tmp_path / "serve.log",
    )
    started = time.monotonic()
    live.run("migrate")
    assert "demo data created" in live.run("seed-demo")
    with live.serving():
        check_demo_server(live.base_url)
    sweeps = worker_sweep(live)
    progress(
        f"fresh runtime ({database}): migrate, seed-demo, serve (health, readiness, demo login, "
        f"search, /docs) and worker --once ({len(sweeps)} sweeps) in "
        f"{time.monotonic() - started:.1f} s"
    )


def as_app_user() -> list[str]:
    """The command prefix that drops to the image's user; none when not root (the caller is
    already an unprivileged user)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "running as root, the check needs setpriv (util-linux)"
    return [setpriv, f"--reuid={APP_UID}", f"--regid={APP_GID}", "--clear-groups"]


def run_as_app_user(
    command: Sequence[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*as_app_user(), *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SHORT_COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.mark.postgres_only
def test_image_steps_outside_docker(
    workspace: Workspace,
    image_venv: Path,
    scratch_databases: "ScratchDatabases",
    tmp_path: Path,
) -> None:
    """The Dockerfile's runtime, step by step, minus the container."""
    media = workspace.root / "media"  # the image's /srv/media volume, the user's to write
    media.mkdir()
    if os.geteuid() == 0:
        os.chown(media, APP_UID, APP_GID)
    python = str(image_venv / "bin" / "python")
    image_env = system_environment(
        PATH=f"{image_venv / 'bin'}{os.pathsep}{system_environment()['PATH']}",
        PYTHONPATH=str(workspace.tree),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        HOME=str(workspace.tree),
        MARKETPLACE_ENVIRONMENT="production",
        MARKETPLACE_PUBLIC_URL="https://api.example.com",
        # Production sends mail through SMTP or not at all (tests/outside/test_mail.py runs
        # the SMTP path against a real server); the image check needs neither.
        MARKETPLACE_EMAIL_BACKEND="none",
        MARKETPLACE_TOTP_ENCRYPTION_KEY=secrets.token_urlsafe(48),
        MARKETPLACE_MEDIA_DIR=str(media),
        MARKETPLACE_DATABASE_URL=scratch_databases.new_url(),
    )

    # The premise: this user can write its media and not its own code.
    probe = run_as_app_user(
        [
            python,
            "-c",
            "import os, sys\n"
            "open(os.path.join(sys.argv[1], 'probe'), 'w').close()\n"
            "try:\n"
            "    open(os.path.join(sys.argv[2], 'app', 'probe.py'), 'w')\n"
            "except PermissionError:\n"
            "    print('code is read-only')\n",
            str(media),
            str(workspace.tree),
        ],
        image_env,
        workspace.tree,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "code is read-only", "the app's user could write its code"

    # Production refuses to start without a real secret, says why, and echoes no secret.
    for secret in (None, DEV_JWT_SECRET):
        env = dict(image_env)
        if secret is not None:
            env["MARKETPLACE_JWT_SECRET"] = secret
        refused = run_as_app_user([python, "-m", "app.cli", "migrate"], env, workspace.tree)
        assert refused.returncode != 0, "production started with the development JWT secret"
        assert "MARKETPLACE_JWT_SECRET must be set in production" in refused.stderr, refused.stderr[
            -2000:
        ]
        assert "Traceback" not in refused.stderr, refused.stderr[-2000:]
        assert DEV_JWT_SECRET not in refused.stdout + refused.stderr

    image_env["MARKETPLACE_JWT_SECRET"] = secrets.token_urlsafe(48)
    live = LiveServer(
        command=[*as_app_user(), python, "-m", "app.cli"],
        env=image_env,
        cwd=workspace.tree,
        log_path=tmp_path / "serve.log",
    )
    started = time.monotonic()
    live.run("migrate")
    with live.serving():
        assert live.process is not None
        # setpriv execs the server in place: the listening process is the image's user.
        server_uid = Path(f"/proc/{live.process.pid}").stat().st_uid
        assert server_uid == (APP_UID if os.geteuid() == 0 else os.geteuid()), server_uid
        base = live.base_url
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        email = f"image-check-{uuid.uuid4().hex[:8]}@example.com"
        password = secrets.token_urlsafe(16)
        registered = httpx.post(
            f"{base}/v1/auth/register",
            json={"email": email, "password": password, "display_name": "Image Check"},
            timeout=30,
        )
        assert registered.status_code == 202, registered.text
        token = httpx.post(
            f"{base}/v1/auth/token", data={"username": email, "password": password}, timeout=30
        )
        assert token.status_code == 200, token.text
        me = httpx.get(
            f"{base}/v1/me",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=10,
        )
        assert me.status_code == 200, me.text
        assert me.json()["email"] == email
    sweeps = worker_sweep(live)
    who = f"uid {APP_UID}" if os.geteuid() == 0 else f"uid {os.geteuid()} (not root)"
    progress(
        f"image steps: as {who}, a {workspace.interpreter} venv with requirements.lock only, "
        "read-only tree: production refuses the dev secret; "
        f"migrate, serve (health, readiness, register, login, /v1/me), worker --once "
        f"({len(sweeps)} sweeps) in {time.monotonic() - started:.1f} s"
    )
