"""Fixtures over harness.py. Servers get a scratch database of their own (PostgreSQL when
MARKETPLACE_TEST_POSTGRES_URL is set, else a SQLite file), made by tests/conftest.py's
ScratchDatabases and dropped after the test. When a test fails, the output of every server
and worker it started, and what its webhook receivers got, is attached to its report."""

import asyncio
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Protocol

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, ScratchDatabases, admin_execute
from tests.integration.harness import (
    LiveServer,
    SettingValue,
    WebhookReceiver,
    generate_client,
    start_server,
)


class _Reportable(Protocol):
    @property
    def name(self) -> str: ...

    def report_text(self) -> str: ...


_REPORTABLES = pytest.StashKey[list[_Reportable]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for reportable in item.stash.get(_REPORTABLES, []):
            report.sections.append((f"Captured {reportable.name}", reportable.report_text()))
    return report


def _report_on_failure(request: pytest.FixtureRequest, reportable: _Reportable) -> None:
    request.node.stash.setdefault(_REPORTABLES, []).append(reportable)


@pytest.fixture(scope="session")
def generated_client(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The `marketplace_api_client` package generated from openapi/openapi.json (once per
    session); generating it fails the test on any generator warning."""
    return generate_client(tmp_path_factory.mktemp("openapi-client"))


class LiveServers:
    """Starts servers on fresh scratch databases; stops them and drops the databases at the
    end of the test."""

    def __init__(
        self, request: pytest.FixtureRequest, scratch: ScratchDatabases, work_dir: Path
    ) -> None:
        self._request = request
        self._scratch = scratch
        self._work_dir = work_dir
        self._servers: list[LiveServer] = []
        self._database_urls: list[str] = []

    def start(
        self,
        *,
        name: str = "server",
        in_process_worker: bool = True,
        settings: Mapping[str, SettingValue] | None = None,
        database_url: str | None = None,
        workers: int = 1,
    ) -> LiveServer:
        """A migrated, ready server (`workers` API processes). `database_url` of another
        server shares its database (then it is not migrated again); by default each server
        gets a new one."""
        migrate = database_url is None
        if database_url is None:
            database_url = self._scratch.new_url()
            self._database_urls.append(database_url)
        server = start_server(
            database_url,
            self._work_dir / f"{name}-{len(self._servers)}",
            name=name,
            in_process_worker=in_process_worker,
            settings=settings,
            migrate=migrate,
            workers=workers,
        )
        self._servers.append(server)
        _report_on_failure(self._request, server)
        return server

    def close(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        if POSTGRES_URL is not None:
            for url in self._database_urls:
                name = make_url(url).database
                asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def live_servers(
    request: pytest.FixtureRequest, scratch_databases: ScratchDatabases, tmp_path: Path
) -> Iterator[LiveServers]:
    servers = LiveServers(request, scratch_databases, tmp_path)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def live_server(live_servers: LiveServers) -> LiveServer:
    """The real server on its own scratch database, with the worker running in-process."""
    return live_servers.start()


@pytest.fixture
def webhook_receiver(request: pytest.FixtureRequest) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        _report_on_failure(request, receiver)
        yield receiver
