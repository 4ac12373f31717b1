"""Support of helper A2's matrix files (delete, policy, retention, copy) and the kill re-runs.

* :class:`Course`: the session's local cloud as a project nobody else uses (``denbi-course``,
  the user's second project), through a clouds.yaml variant with a small ``api_timeout``
  (:data:`API_TIMEOUT` s) so latency cells are quick. Flows in a test with ``course_env``
  open a fresh client per run (Keystone is asked every time, so identity faults apply); the
  test's own set-up and checks use :meth:`Course.client` (opened once) and only while no
  fault rule is active.
* :meth:`Course.settle` ends the faulty part of a cell: it adds what fired to the cell's
  ``injected`` count and removes every rule, so the checks and the re-run see a healthy cloud.
* :func:`finish`: run a flow in a thread with a bound; its result, or the one error of ours
  it raised (anything else, or no end within the bound, fails the test).
* :func:`clear_failure`: the promise every failing cell makes about its error.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
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
from denbi_jupyter.localcloud.seed import SECOND_PROJECT
from tests.reliability.matrix import Cell

__all__ = [
    "API_TIMEOUT",
    "OUTAGE",
    "SLOW",
    "Course",
    "clear_failure",
    "course",
    "course_env",
    "finish",
]

T = TypeVar("T")

#: The clouds.yaml ``api_timeout`` of the variant (seconds).
API_TIMEOUT = 1.5
#: A latency fault's delay: well beyond the client's api_timeout.
SLOW = API_TIMEOUT + 1.5
#: What an outage's message says (the service failed, try again later), in any of its forms.
OUTAGE = r"(HTTP 5\d\d|may be down|failing or not answering).*try again later"
#: Words that blame the user's configuration; an outage's message must not use them.
_CONFIG_BLAME = re.compile(r"check (username|the values)|fix the entry|credentials", re.I)


@dataclass
class Course:
    """The local cloud as project ``denbi-course`` sees it, with a small api_timeout."""

    cloud: LocalCloud
    clouds_yaml: Path
    clients: dict[str, CloudClient] = field(default_factory=dict)

    def client(self, site: str) -> CloudClient:
        """The test's own (cached) client of ``site``: for set-up and checks only."""
        if site not in self.clients:
            from denbi_jupyter.cloud import open_site

            self.clients[site] = open_site(site, config_file=self.clouds_yaml)
        return self.clients[site]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the local cloud's ``/_admin`` API; the JSON answer (None for 204)."""
        with httpx.Client(base_url=self.cloud.url, timeout=10) as http:
            answer = http.request(method, path, json=body)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def settle(self, cell: Cell) -> int:
        """Count what fired into ``cell.injected`` and remove every rule; how many fired."""
        rules = self.admin("GET", "/_admin/faults")["rules"]
        fired = sum(int(rule.get("fired", 0)) for rule in rules)
        cell.injected += fired
        self.admin("DELETE", "/_admin/faults")
        return fired


@pytest.fixture(scope="session")
def course(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Course:
    """The course project's clouds.yaml variant (mode 0600), written once per session."""
    data = local_cloud.clouds_yaml()
    for entry in data["clouds"].values():
        entry["auth"]["project_name"] = SECOND_PROJECT
        entry["api_timeout"] = API_TIMEOUT
    path = tmp_path_factory.mktemp("course") / "clouds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return Course(cloud=local_cloud, clouds_yaml=path)


@pytest.fixture
def course_env(course: Course, monkeypatch: pytest.MonkeyPatch) -> Iterator[Course]:
    """Flows in this test open fresh clients of the course project; rules go afterwards."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(course.clouds_yaml))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    try:
        yield course
    finally:
        with contextlib.suppress(AssertionError, httpx.HTTPError):
            course.admin("DELETE", "/_admin/faults")


def finish(call: Callable[[], T], *, within: float) -> T | DenbiError:
    """``call()``'s result, or the error of ours it raised, once it ended within ``within`` s.

    The call runs in a thread (with this context: the Prefect settings, the client source);
    one that does not end in time, or raises something that is not a :class:`DenbiError`,
    fails the test.
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


def clear_failure(
    error: object, kinds: tuple[type[DenbiError], ...], cause: str, *, outage: bool = True
) -> DenbiError:
    """Assert ``error`` is one clear failure: of ``kinds``, one line, naming ``cause``.

    ``outage``: the fault was the cloud's, so the error must not blame the user's input or
    configuration.
    """
    assert isinstance(error, kinds), f"expected one of {kinds}, got {error!r}"
    message = str(error)
    assert "\n" not in message, message
    assert re.search(cause, message, re.I), f"{cause!r} not in {message!r}"
    if outage:
        assert not isinstance(error, UserInputError | AuthenticationError), message
        assert not _CONFIG_BLAME.search(message), message
    return error
