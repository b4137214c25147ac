"""A scratch PostgreSQL cluster with a real streaming replica, from Debian's server binaries.

`initdb` a primary (wal_level=replica, replication allowed from 127.0.0.1) on a free port in a
temporary directory, start it, clone it with `pg_basebackup -R` (which writes the standby
configuration), start the clone on another port: a hot standby replaying the primary's WAL.
Both are stopped and their directories removed when the block ends, also on failure. The
server binaries refuse to run as root, so as root they run as `postgres` (see
scripts/local_pgbouncer.py).
"""

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from scripts.local_pgbouncer import free_port, unprivileged, unprivileged_temp_dir

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass(frozen=True)
class Cluster:
    data_dir: Path
    port: int

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """For asyncpg itself."""
        return self.url(database, driver="postgresql")


def _run(*command: str | Path, cwd: Path) -> None:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **unprivileged(),
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


@contextmanager
def _running(cluster: Cluster, root: Path) -> Iterator[Cluster]:
    log = root / f"{cluster.data_dir.name}.log"
    _run(PG_BIN / "pg_ctl", "-D", cluster.data_dir, "-l", log, "-w", "start", cwd=root)
    try:
        yield cluster
    finally:
        _run(PG_BIN / "pg_ctl", "-D", cluster.data_dir, "-m", "immediate", "-w", "stop", cwd=root)


def _configure(data_dir: Path, port: int, socket_dir: Path) -> None:
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "wal_level = replica\n"
            "max_wal_senders = 4\n"
            "hot_standby = on\n"
            # A throwaway cluster: durability only costs the test time.
            "fsync = off\n"
            "shared_buffers = 32MB\n"
        )


@contextmanager
def streaming_replica() -> Iterator[tuple[Cluster, Cluster]]:
    """(primary, replica), both running; the replica streams from the primary."""
    with ExitStack() as stack:
        root = stack.enter_context(unprivileged_temp_dir("replica-pair-"))
        primary = Cluster(root / "primary", free_port())
        _run(
            PG_BIN / "initdb",
            *("-D", primary.data_dir, "-U", "postgres", "--auth=trust", "--no-sync"),
            cwd=root,
        )
        _configure(primary.data_dir, primary.port, root)
        with (primary.data_dir / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        stack.enter_context(_running(primary, root))

        replica = Cluster(root / "replica", free_port())
        _run(
            PG_BIN / "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", replica.data_dir, "-R", "-X", "stream", "--no-sync"),
            cwd=root,
        )
        # The copy carries the primary's settings; only its port must differ.
        with (replica.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {replica.port}\n")
        stack.enter_context(_running(replica, root))
        yield primary, replica


async def caught_up(primary: Cluster, replica: Cluster, timeout: float = 30) -> None:  # noqa: ASYNC109
    """Wait until the replica has replayed everything the primary had written when called."""
    source = await asyncpg.connect(primary.dsn())
    try:
        target_lsn = await source.fetchval("SELECT pg_current_wal_lsn()::text")
    finally:
        await source.close()
    standby = await asyncpg.connect(replica.dsn())
    try:
        deadline = time.monotonic() + timeout
        while not await standby.fetchval(
            "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target_lsn
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not replay up to {target_lsn} in {timeout}s")
            await asyncio.sleep(0.05)
    finally:
        await standby.close()


@asynccontextmanager
async def replay_paused(replica: Cluster) -> AsyncIterator[None]:
    """The standby stops applying the primary's WAL meanwhile (it keeps receiving it), as a
    lagging replica would; it resumes at the end."""
    standby = await asyncpg.connect(replica.dsn())
    try:
        await standby.execute("SELECT pg_wal_replay_pause()")
        # Pausing is asked for, then takes effect at the next record boundary.
        for _ in range(500):
            if await standby.fetchval("SELECT pg_get_wal_replay_pause_state()") == "paused":
                break
            await asyncio.sleep(0.02)
        else:
            raise TimeoutError("the standby did not pause its replay")
        yield
    finally:
        await standby.execute("SELECT pg_wal_replay_resume()")
        await standby.close()
