"""The schemathesis fuzzer against the real server, once per kind of caller: anonymous, a buyer,
a seller and an admin (the demo accounts), with every check and zero failures allowed.

Each caller gets a fresh database and server of its own (on the database of the pass:
PostgreSQL in CI's PostgreSQL pass, else SQLite), so that what one run does cannot fail another:
the admin's run suspends shops, removes listings and rewrites the category tree. Within a run
the caller's token stays valid: the fuzzer cannot end its own session (logout needs the refresh
token, a password change or account deletion the password, and an admin may not demote
itself), so a 401 midway would be a real finding, not noise. The rate limits stay as shipped:
the fuzzer's wrong passwords may lock the demo account's logins (the token was taken before)
and its messages may hit the message limit; both answer 429 with `Retry-After`, which the
spec documents and the checks accept.

The configuration (tests/outside/schemathesis.toml) fixes the seed and bounds the examples;
the few checks it turns off, it turns off for one operation each, saying why.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ScratchDatabases
from tests.outside.live import REPO_ROOT, LiveServer, base_environment, login, progress

CONFIG = Path(__file__).with_name("schemathesis.toml")
CALLERS = ("anonymous", "buyer", "seller", "admin")
FUZZ_TIMEOUT_SECONDS = 900.0
SUMMARY_MARKER = " SUMMARY "


def summary(output: str) -> str:
    """schemathesis's closing summary (phases, failures, warnings, the seed), from the line
    that heads it."""
    marker = output.find(SUMMARY_MARKER)
    return output[output.rfind("\n", 0, marker) + 1 :] if marker >= 0 else output[-3000:]


@pytest.mark.parametrize("caller", CALLERS)
def test_the_fuzzer_finds_nothing(
    caller: str, scratch_databases: ScratchDatabases, tmp_path: Path
) -> None:
    server = LiveServer(
        command=[sys.executable, "-m", "app.cli"],
        env=base_environment(
            MARKETPLACE_DATABASE_URL=scratch_databases.new_url(),
            MARKETPLACE_MEDIA_DIR=str(tmp_path / "media"),
            # As a developer serves it, with the worker's sweeps running in-process while the
            # fuzzer works.
            MARKETPLACE_ENVIRONMENT="development",
            MARKETPLACE_LOG_JSON="false",
            # The fuzzer registers hundreds of accounts: production-strength argon2 would spend
            # the CI budget on hashing (production refuses these values).
            MARKETPLACE_PASSWORD_HASH_TIME_COST="1",
            MARKETPLACE_PASSWORD_HASH_MEMORY_KIB="8",
            MARKETPLACE_PASSWORD_HASH_PARALLELISM="1",
            # One client sends thousands of requests a minute and registers hundreds of
            # accounts from one address: the per-client budgets would answer 429 where the
            # fuzzer checks the API's behaviour (tests/core/test_rate_limits.py tests them).
            MARKETPLACE_RATE_LIMITS_ENABLED="false",
        ),
        cwd=REPO_ROOT,
        log_path=tmp_path / "server.log",
    )
    server.run("migrate")
    server.run("seed-demo")
    with server.serving():
        authorization = (
            []
            if caller == "anonymous"
            else ["--header", f"Authorization: Bearer {login(server.base_url, caller)}"]
        )
        started = time.monotonic()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "run",
                f"{server.base_url}/openapi.json",
                "--no-color",
                *authorization,
            ],
            # Its reports and caches land in the test's own directory, not the working tree.
            cwd=tmp_path,
            env={
                **os.environ,
                "PYTHONPATH": str(REPO_ROOT),
                "SCHEMATHESIS_HOOKS": "tests.outside.schemathesis_hooks",
            },
            capture_output=True,
            text=True,
            timeout=FUZZ_TIMEOUT_SECONDS,
            check=False,
        )
        elapsed = time.monotonic() - started

    progress(f"\n--- schemathesis as {caller} ({elapsed:.0f} s) ---\n{summary(result.stdout)}")
    assert result.returncode == 0, (
        f"schemathesis as {caller} exited {result.returncode}:\n{result.stdout[-20000:]}\n"
        f"{result.stderr[-3000:]}\n--- server log ---\n{server.log_tail()}"
    )
