"""The product run the way its users run it: the `marketplace` command in its own process,
talked to over real HTTP.

Used by the outside checks (tests/outside): a fresh runtime install, the README's command, the
console in a browser, the fuzzer. Every wait here is bounded, and a server that dies or never
answers fails the test with the tail of its log.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.demo import DEMO_ACCOUNTS

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60.0
COMMAND_TIMEOUT_SECONDS = 300.0
DEMO_PASSWORDS = {account.role: (account.email, account.password) for account in DEMO_ACCOUNTS}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def base_environment(**overrides: str) -> dict[str, str]:
    """The caller's environment without any MARKETPLACE_ setting it may carry (a developer's
    shell, the test run's own), plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(overrides)
    return env


@dataclass
class LiveServer:
    """`marketplace serve` on a free port of 127.0.0.1, with `marketplace` commands beside it.

    `command` is how to invoke the CLI (e.g. `[venv/bin/marketplace]`, or
    `[python, -m, app.cli]`); `env` is the whole environment of every process started.
    """

    command: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *args: str) -> str:
        """Run one CLI command to completion; its stdout, or a failure with its output."""
        return check_run([*self.command, *args], cwd=self.cwd, env=self.env)

    def start(self, *extra_args: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *self.command,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *extra_args,
                ],
                cwd=self.cwd,
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so stop() reaches uvicorn's children too
            )
        wait_for_health(self.base_url, self.process, self.log_path)

    def stop(self) -> None:
        stop_process_group(self.process)
        self.process = None

    def log_tail(self, chars: int = 4000) -> str:
        return read_tail(self.log_path, chars)

    @contextmanager
    def serving(self, *extra_args: str) -> Iterator["LiveServer"]:
        self.start(*extra_args)
        try:
            yield self
        finally:
            self.stop()


def check_run(
    command: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> str:
    """Run to completion; its stdout, or a failure that shows its output."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def read_tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "<no log>"


def wait_for_health(
    base_url: str,
    process: "subprocess.Popen[bytes]",
    log_path: Path,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> None:
    """Until GET /healthz answers 200; fails at once if the process exits, or at `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the server exited with {process.returncode} before answering /healthz:\n"
                + read_tail(log_path)
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    stop_process_group(process)
    raise AssertionError(
        f"no answer from {base_url}/healthz within {timeout:.0f} s:\n" + read_tail(log_path)
    )


def stop_process_group(process: "subprocess.Popen[bytes] | None") -> None:
    """SIGTERM to the process's group, SIGKILL if it has not gone within 15 s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def login(base_url: str, role: str) -> str:
    """A demo account's access token, through the OAuth2 password form as any client sends it."""
    email, password = DEMO_PASSWORDS[role]
    response = httpx.post(
        f"{base_url}/v1/auth/token",
        data={"username": email, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


# What makes a process use one particular virtualenv rather than the interpreter it names.
PYTHON_SELECTION_VARIABLES = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")


def system_environment(**overrides: str) -> dict[str, str]:
    """`base_environment` as a newcomer's shell has it: no virtualenv activated and no
    PYTHONPATH, so `python3` is the system's and nothing of the test run's `.venv` or source
    tree can leak into what is checked; plus `overrides`."""
    env = base_environment()
    for name in PYTHON_SELECTION_VARIABLES:
        env.pop(name, None)
    env["PATH"] = os.pathsep.join(
        entry
        for entry in env.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry).parent / "pyvenv.cfg").exists()
    )
    env.update(overrides)
    return env


def system_python3() -> Path:
    """The `python3` a newcomer's shell finds on PATH (never a virtualenv's)."""
    found = shutil.which("python3", path=system_environment()["PATH"])
    assert found is not None, "no python3 on PATH (outside any virtualenv)"
    return Path(found)


def copy_tracked_files(destination: Path, *, only: Sequence[str] = ()) -> int:
    """Copy what a clean clone would hold into `destination`: the files git tracks, with
    their working-tree contents (so uncommitted edits are checked too), and nothing untracked
    (.venv, marketplace.db, media/, caches). `only` limits the copy to these paths (files, or
    folders with a trailing slash). Returns the number of files copied.

    A new file that was never `git add`ed is left out, as a clone would leave it out."""
    listing = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    copied = 0
    for relative in filter(None, listing.split("\0")):
        if only and not any(
            relative == wanted or (wanted.endswith("/") and relative.startswith(wanted))
            for wanted in only
        ):
            continue
        source = REPO_ROOT / relative
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in the index: a clone won't have it
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
        copied += 1
    return copied


def progress(message: str) -> None:
    """One line of the outside checks' log (they run with `pytest -s`, so CI shows it)."""
    print(message, flush=True)  # noqa: T201 - this log is the report a reader of CI needs
