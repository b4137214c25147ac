"""The `marketplace` command, run as a real process against a throwaway SQLite file."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.cli import PROJECT_ROOT


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.database = tmp_path / "cli.db"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
        self.env.update(
            MARKETPLACE_DATABASE_URL=f"sqlite+aiosqlite:///{self.database}",
            MARKETPLACE_ENVIRONMENT="test",
            MARKETPLACE_LOG_LEVEL="WARNING",
        )

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            cwd=PROJECT_ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(sql, params).fetchall()
