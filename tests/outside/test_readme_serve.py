"""The README's first command, run the way a newcomer runs it: in a clean clone, with the
system's python3, no virtualenv active and no MARKETPLACE_ setting in the environment."""

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.outside.live import (
    DEMO_PASSWORDS,
    REPO_ROOT,
    copy_tracked_files,
    free_port,
    login,
    progress,
    read_tail,
    stop_process_group,
    system_environment,
    system_python3,
    wait_for_health,
)

# Creating .venv and installing requirements.lock into it comes before the server answers.
INSTALL_AND_START_TIMEOUT_SECONDS = 240.0
EXPECTED_FIRST_COMMAND = "python3 scripts/dev.py serve"


def readme_first_command() -> str:
    """The first line of the Quick start's first shell block, without its comment."""
    quick_start = (REPO_ROOT / "README.md").read_text().partition("## Quick start")[2]
    block = re.search(r"```(?:sh|bash|console)\n(.*?)```", quick_start, re.DOTALL)
    assert block is not None, "the README's Quick start has no shell block"
    return block.group(1).splitlines()[0].partition("#")[0].strip()


def test_readme_first_command_serves_from_a_clean_clone(tmp_path: Path) -> None:
    command = readme_first_command()
    # This test is about that command: if the README changes it, this test must change too.
    assert command == EXPECTED_FIRST_COMMAND, f"the README now starts with {command!r}"

    clone = tmp_path / "clone"
    copied = copy_tracked_files(clone)
    leftovers = [name for name in (".venv", "marketplace.db", "media") if (clone / name).exists()]
    assert not leftovers, f"a clean clone has no {leftovers}"

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    progress(
        f"\nREADME serve: `{command}` in a copy of {copied} tracked files, "
        f"python3 = {system_python3()}"
    )
    started_wall, started = time.time(), time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # Verbatim: "python3" is looked up on the PATH of the environment given here,
            # which holds no virtualenv.
            [*shlex.split(command), "--port", str(port)],
            cwd=clone,
            env=system_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # dev.py execs `marketplace serve`: stop its whole group
        )
    try:
        wait_for_health(base_url, process, log_path, timeout=INSTALL_AND_START_TIMEOUT_SECONDS)
        answered_after = time.monotonic() - started

        # dev.py marks a finished install of requirements.lock with a file in .venv.
        markers = list((clone / ".venv").glob(".installed-requirements-*"))
        assert len(markers) == 1, f"no record of the runtime install: {markers}"
        install_seconds = markers[0].stat().st_mtime - started_wall
        assert (clone / "marketplace.db").exists(), "the README's SQLite database was not made"
        assert "demo data created" in read_tail(log_path, 100_000)

        token = login(base_url, "buyer")
        me = httpx.get(
            f"{base_url}/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert me.status_code == 200, me.text
        assert me.json()["email"] == DEMO_PASSWORDS["buyer"][0]
        # The same README line promises the interactive docs.
        assert httpx.get(f"{base_url}/docs", timeout=10).status_code == 200
    finally:
        stop_process_group(process)
        shutil.rmtree(clone, ignore_errors=True)  # its .venv is a few hundred MB
    progress(
        f"README serve: fresh .venv (requirements.lock, project editable) installed in "
        f"{install_seconds:.1f} s; first /healthz answer after {answered_after:.1f} s; "
        "demo buyer logged in, /v1/me and /docs answer"
    )
