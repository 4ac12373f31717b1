"""Support of the boot, snapshot, server-action and key-import matrix files.

* :class:`Matrix`: the session's local cloud through a clouds.yaml variant with a small
  ``api_timeout`` (:data:`~tests.reliability.faultset.API_TIMEOUT`), primary project. Flows
  in a test with ``matrix_env`` open a fresh client per run (Keystone is asked every time, so
  identity faults apply); :meth:`Matrix.client` (opened once) and :meth:`Matrix.sdk` (plain
  openstacksdk, for counting) are for set-up and checks while no rule is active.
* :meth:`Matrix.settle` ends the faulty part of a cell: what fired goes into the cell's
  ``injected`` count, and every rule is removed.
* :func:`run_bounded` runs a flow in a thread with a bound; :func:`judge` checks the end
  against the scenario's :class:`~tests.reliability.faultset.Outcome`.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.errors import AuthenticationError, DenbiError, UserInputError
from denbi_jupyter.localcloud import LocalCloud
from tests.reliability.faultset import API_TIMEOUT, Outcome
from tests.reliability.matrix import Cell
from tests.support.sdk import sdk_connection

__all__ = ["Matrix", "judge", "matrix", "matrix_env", "run_bounded", "wait_until"]

T = TypeVar("T")

#: Words that blame the user's input or configuration; an outage's message must not use them.
_CONFIG_BLAME = re.compile(
    r"check (username|the values)|fix the entry|credentials|region_name|auth_url", re.I
)


@dataclass
class Matrix:
    """The local cloud as the primary project sees it, with a small api_timeout."""

    cloud: LocalCloud
    clouds_yaml: Path
    clients: dict[str, CloudClient] = field(default_factory=dict)

    def client(self, site: str) -> CloudClient:
        """The test's own (cached) client of ``site``: for set-up and checks only."""
        if site not in self.clients:
            from denbi_jupyter.cloud import open_site

            self.clients[site] = open_site(site, config_file=self.clouds_yaml)
        return self.clients[site]

    def sdk(self, site: str) -> contextlib.AbstractContextManager[Any]:
        """A plain openstacksdk connection to ``site`` (counting what exists)."""
        return sdk_connection(self.clouds_yaml, site)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the local cloud's ``/_admin`` API; the JSON answer (None for 204)."""
        with httpx.Client(base_url=self.cloud.url, timeout=10) as http:
            answer = http.request(method, path, json=body)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def inject(self, rules: list[dict[str, Any]]) -> None:
        """Add fault rules."""
        self.admin("POST", "/_admin/faults", rules)

    def settle(self, cell: Cell) -> int:
        """Count what fired into ``cell.injected`` and remove every rule; how many fired."""
        rules = self.admin("GET", "/_admin/faults")["rules"]
        fired = sum(int(rule.get("fired", 0)) for rule in rules)
        cell.injected += fired
        self.admin("DELETE", "/_admin/faults")
        return fired


@pytest.fixture(scope="session")
def matrix(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    """The clouds.yaml variant with a small api_timeout (mode 0600), written once."""
    data = local_cloud.clouds_yaml()
    for entry in data["clouds"].values():
        entry["api_timeout"] = API_TIMEOUT
    path = tmp_path_factory.mktemp("matrix") / "clouds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return Matrix(cloud=local_cloud, clouds_yaml=path)


@pytest.fixture
def matrix_env(matrix: Matrix, monkeypatch: pytest.MonkeyPatch) -> Iterator[Matrix]:
    """Flows in this test open fresh clients of the variant; rules go afterwards."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(matrix.clouds_yaml))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    try:
        yield matrix
    finally:
        with contextlib.suppress(AssertionError, httpx.HTTPError):
            matrix.admin("DELETE", "/_admin/faults")


def run_bounded(call: Callable[[], T], *, within: float) -> T | DenbiError:
    """``call()``'s result, or the error of ours it raised, once it ended within ``within`` s.

    Anything else raised, or no end within the bound, fails the test.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matrix-flow")
    future = pool.submit(contextvars.copy_context().run, call)
    try:
        return future.result(timeout=within)
    except FutureTimeout:
        raise AssertionError(f"the flow did not end within {within} s (it spins)") from None
    except DenbiError as error:
        return error
    finally:
        pool.shutdown(wait=False)


def judge(result: object, outcome: Outcome) -> None:
    """Assert the flow's end is what the scenario promises: success, or ONE clear failure
    (of the scenario's types, one line, naming the cause, never blaming the user's setup)."""
    if outcome.expectation == "succeeds":
        assert not isinstance(result, DenbiError), f"expected success, got {result!r}"
        return
    assert isinstance(result, outcome.error), f"expected one of {outcome.error}, got {result!r}"
    message = str(result)
    assert "\n" not in message, message
    assert re.search(outcome.message, message, re.I), f"{outcome.message!r} not in {message!r}"
    assert not isinstance(result, UserInputError | AuthenticationError), message
    assert not _CONFIG_BLAME.search(message), message


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` (the cloud's API: nothing else to wait on) until it holds."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        tick.wait(0.05)
