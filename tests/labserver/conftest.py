"""Real labs with the server extension: started once per module, stopped by PID afterwards.

A lab here is :func:`denbi_jupyter.lab.start_lab` without the local cloud: a JupyterLab
subprocess with ``denbi_jupyter.labserver`` enabled on the command line, its Prefect state in
a temporary folder (never the user's), on a free port.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.lab import LabSession, start_lab
from tests.support.waiting import until as until  # test_labserver imports it from here

#: Long enough for a Prefect server to start on a busy two-core machine.
PREFECT_START_S = 150.0


def call(session: LabSession, path: str, *, method: str = "GET", body: object = None) -> Any:
    """JSON from ``<lab url>/<path>`` with the lab's token."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{session.url}/{path.lstrip('/')}",
        method=method,
        data=data,
        headers={"Authorization": f"token {session.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def status(session: LabSession) -> dict[str, Any]:
    """The ``prefect`` part of ``GET denbi-jupyter/status``."""
    answer: dict[str, Any] = call(session, "denbi-jupyter/status")["prefect"]
    return answer


def wait_ready(session: LabSession) -> list[str]:
    """Every Prefect state the lab reported until ``ready`` (fails on ``failed``)."""
    seen: list[str] = []

    def ready() -> list[str] | None:
        state = status(session)
        if not seen or seen[-1] != state["state"]:
            seen.append(state["state"])
        assert state["state"] != "failed", state["error"]
        return seen if state["state"] == "ready" else None

    return until("the lab's Prefect server ready", ready, timeout_s=PREFECT_START_S)


def lab(
    root: Path,
    *,
    prefect_home: Path | None,
    log: Path,
    env: dict[str, str] | None = None,
    **kw: Any,
) -> LabSession:
    """A lab serving ``root`` with the extension; no local cloud."""
    root.mkdir(parents=True, exist_ok=True)
    return start_lab(
        notebook_dir=root,
        local_cloud=False,
        prefect_home=prefect_home,
        env={"PREFECT_HOME": str(root.parent / "client-prefect"), **(env or {})},
        log_file=log,
        **kw,
    )


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Prefect folder (state file, SQLite) the module's labs share."""
    return tmp_path_factory.mktemp("lab-prefect")


@pytest.fixture(scope="module")
def first_lab(tmp_path_factory: pytest.TempPathFactory, prefect_home: Path) -> Iterator[LabSession]:
    """The lab that starts the Prefect server (base URL ``/``)."""
    folder = tmp_path_factory.mktemp("first-lab")
    session = lab(folder / "root", prefect_home=prefect_home, log=folder / "lab.log")
    try:
        yield session
    finally:
        session.stop()


def urlopen_status(url: str, **headers: str) -> int:
    """The HTTP status of GET ``url`` (redirects not followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
