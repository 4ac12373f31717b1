"""Shared fixtures of the flow, jobs and CLI tests (imported by their conftest files).

* ``prefect_harness`` (session): one ``prefect_test_harness`` (a temporary Prefect API with a
  SQLite database, started from the prepared empty one) for the whole run. It is imported by
  three conftest files, which makes three fixture definitions; a reference count makes them
  share one harness.
* ``local_env`` (function): the local cloud's clouds.yaml in ``OS_CLIENT_CONFIG_FILE`` (what
  ``open_site`` and the console script read), with the site clients cached per session so
  Keystone is asked once per site.
* ``faults``: adds local-cloud fault rules for one test and removes every rule after it.
* ``cloud_password``: the clouds.yaml password, for "no secret in any output" checks.
* ``cloud``: an empty FakeCloud that the flows in one test use for every site.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest
import yaml

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.prefect_db import seed_database
from flows import flow_settings, use_clients
from tests.support.fake_cloud import FakeCloud
from tests.support.faults import fault_rules

__all__ = [
    "LocalEnv",
    "cloud",
    "cloud_password",
    "faults",
    "local_env",
    "prefect_harness",
    "site_clients",
]


def _seeded_scratch() -> str:
    """The harness's database folder, with the prepared empty database in it (no migration)."""
    scratch = tempfile.mkdtemp(prefix="prefect-harness-")
    seed_database(Path(scratch), name=_HARNESS_DATABASE)
    return scratch


class _SharedHarness:
    """One Prefect test harness, entered by the first user and left by the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._stack: contextlib.ExitStack | None = None

    def enter(self) -> None:
        with self._lock:
            if self._users == 0:
                from prefect.testing.utilities import prefect_test_harness

                stack = contextlib.ExitStack()
                # Heartbeats and telemetry off, for the test server too.
                stack.enter_context(flow_settings())
                with mock.patch("prefect.testing.utilities.mkdtemp", _seeded_scratch):
                    stack.enter_context(prefect_test_harness(server_startup_timeout=120))
                self._stack = stack
            self._users += 1

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._stack is not None:
                self._stack.close()
                self._stack = None


_HARNESS = _SharedHarness()
#: The file ``prefect_test_harness`` keeps its database in, in the folder it makes.
_HARNESS_DATABASE = "prefect-test.db"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API for the session, with heartbeats off."""
    _HARNESS.enter()
    try:
        yield
    finally:
        _HARNESS.leave()


@dataclass
class LocalEnv:
    """The local cloud as the flows and the CLI see it."""

    cloud: LocalCloud
    clouds_yaml: Path
    clients: dict[str, CloudClient] = field(default_factory=dict)

    def client(self, site: str) -> CloudClient:
        """The (cached) client of a local-cloud site."""
        if site not in self.clients:
            from denbi_jupyter.cloud import open_site

            self.clients[site] = open_site(site, config_file=self.clouds_yaml)
        return self.clients[site]


@pytest.fixture(scope="session")
def site_clients(local_cloud: LocalCloud, clouds_yaml: Path) -> LocalEnv:
    """Clients of the local cloud's sites, opened once per session."""
    return LocalEnv(cloud=local_cloud, clouds_yaml=clouds_yaml)


@pytest.fixture
def local_env(site_clients: LocalEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEnv]:
    """Flows and ``open_site`` in this test reach the local cloud (cached clients)."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(site_clients.clouds_yaml))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    with use_clients(site_clients.client):
        yield site_clients


@pytest.fixture
def faults(local_cloud: LocalCloud) -> Iterator[Callable[..., None]]:
    """``faults(rule, ...)`` adds local-cloud fault rules; all rules go after the test."""
    with fault_rules(local_cloud) as add:
        yield add


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    """An empty FakeCloud that the flows in this test use for every site."""
    fake = FakeCloud()
    with use_clients(lambda _site: fake):
        yield fake


@pytest.fixture(scope="session")
def cloud_password(clouds_yaml: Path) -> str:
    """The password in the local cloud's clouds.yaml."""
    data = yaml.safe_load(clouds_yaml.read_text())
    passwords = {entry["auth"]["password"] for entry in data["clouds"].values()}
    assert len(passwords) == 1
    return str(passwords.pop())
