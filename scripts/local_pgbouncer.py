"""A private PgBouncer in front of a PostgreSQL server, for a test or a benchmark.

    with local_pgbouncer("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres") as bouncer:
        url = bouncer.url_for("postgresql+asyncpg://postgres@127.0.0.1:5432/shop")
        ...  # the same database, reached through the pooler

Debian's `pgbouncer` binary (`apt-get install pgbouncer`) with a config file of its own in a
temporary directory, never the system service: transaction pooling by default, trust
authentication for the upstream URL's user, on a free 127.0.0.1 port, every database of the
upstream server behind it. It is stopped, and its directory removed, when the block ends.

PgBouncer (like PostgreSQL's server binaries) refuses to run as root: run as root, the
processes these helpers start run as the `postgres` user, in directories it owns.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

UNPRIVILEGED_USER = "postgres"
# Debian installs it under /usr/sbin, which an unprivileged PATH may lack.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


class PgBouncerUnavailable(RuntimeError):
    """No pgbouncer binary, or it did not start (the message carries its log)."""


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer", path=_SEARCH_PATH)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def unprivileged() -> dict[str, Any]:
    """`subprocess.Popen` keywords that drop root to the `postgres` user (nothing otherwise)."""
    if os.geteuid() != 0:
        return {}
    return {"user": UNPRIVILEGED_USER, "group": UNPRIVILEGED_USER, "extra_groups": []}


@contextmanager
def unprivileged_temp_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory the processes of `unprivileged()` may write; removed at the end."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(path, account.pw_uid, account.pw_gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_for_port(host: str, port: int, process: "subprocess.Popen[bytes]", timeout: float) -> bool:
    """True once `host:port` accepts connections; False if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass(frozen=True)
class PgBouncer:
    host: str
    port: int
    log_path: Path

    def url_for(self, database_url: str) -> str:
        """`database_url` (a database of the upstream server) reached through this pooler."""
        url = make_url(database_url).set(host=self.host, port=self.port)
        return url.render_as_string(hide_password=False)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@contextmanager
def local_pgbouncer(
    upstream_url: str,
    *,
    pool_mode: str = "transaction",
    pool_size: int = 20,
    max_client_conn: int = 1000,
    ignore_startup_parameters: Sequence[str] = (),
    start_timeout: float = 15,
) -> Iterator[PgBouncer]:
    """A PgBouncer on a free port in front of the server of `upstream_url` (its host, port
    and user; any database), stopped when the block ends. PgBouncer refuses a client that
    sends a startup parameter it does not know, unless named in `ignore_startup_parameters`
    (then it is dropped, not applied)."""
    binary = pgbouncer_binary()
    if binary is None:
        raise PgBouncerUnavailable("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    upstream = make_url(upstream_url)
    user = upstream.username or UNPRIVILEGED_USER
    with unprivileged_temp_dir("pgbouncer-") as directory:
        port = free_port()
        log_path = directory / "pgbouncer.log"
        # Trust still needs the user listed; a password, if any, is what the server is
        # sent (PgBouncer logs in to it as the client's user).
        password = upstream.password or ""
        (directory / "userlist.txt").write_text(f'"{user}" "{password}"\n')
        (directory / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={upstream.host or '127.0.0.1'} port={upstream.port or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {directory / 'userlist.txt'}\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            f"max_client_conn = {max_client_conn}\n"
            f"logfile = {log_path}\n"
            f"pidfile = {directory / 'pgbouncer.pid'}\n"
            f"ignore_startup_parameters = {','.join(ignore_startup_parameters)}\n"
        )
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED_USER)
            for child in directory.iterdir():
                os.chown(child, account.pw_uid, account.pw_gid)
        process = subprocess.Popen(
            [binary, str(directory / "pgbouncer.ini")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **unprivileged(),
        )
        bouncer = PgBouncer("127.0.0.1", port, log_path)
        try:
            if not wait_for_port(bouncer.host, port, process, start_timeout):
                raise PgBouncerUnavailable(
                    f"pgbouncer did not start (exit {process.poll()}):\n{bouncer.log_text()}"
                )
            yield bouncer
        finally:
            # SIGINT: PgBouncer's safe shutdown; a stuck one is killed.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
