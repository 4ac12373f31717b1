"""A Prefect server on loopback: how to start it, check it and stop it.

Without ``PREFECT_API_URL`` every kernel starts Prefect's ephemeral API on its first flow
(10-20 s on a busy two-core machine). One ``prefect server start`` shared by the kernels
avoids that and gives the Prefect UI. The user's one server (:mod:`denbi_jupyter.user_prefect`,
found or started by the lab's server extension and by commands) is started with the pieces here
(:class:`PrefectLaunch`, :func:`spawn_prefect`, :func:`api_answers`, :func:`stop_process_group`);
:class:`PrefectServer` is the same as a blocking context manager (scripts and tests).

Prefect's settings used (checked against Prefect 3.9's ``server/api/server.py`` and
``settings/models/server/{api,ui}.py``): ``PREFECT_SERVER_API_BASE_PATH`` mounts the API under
a path instead of ``/api``; ``PREFECT_SERVER_UI_SERVE_BASE`` serves the UI's v1 bundle there and
its v2 bundle under ``<base>/v2`` (both rewritten for the base, ``/ui-settings`` under the
base); ``PREFECT_SERVER_UI_API_URL`` is what ``/ui-settings`` tells the browser. That last one
must be set explicitly: ``prefect server start --port N`` does not change
``PREFECT_SERVER_API_PORT``, so its default pointed the UI at port 4200.
``PREFECT_SERVER_UI_STATIC_DIRECTORY`` keeps the rewritten bundles in the server's home (the
package folder may not be writable, and two servers with different bases must not share it).
``PREFECT_SERVER_LOG_RETRYABLE_ERRORS`` puts the SQLite "database is locked" answers (503,
which the client retries after about two seconds) into the server's log, so they can be
counted; no setting avoids them (see ``tests/backend``: Prefect already sets WAL and a 60 s
``busy_timeout``; the 503s come from deferred transactions that cannot wait for the lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from denbi_jupyter._serving import StopsOnExit, wait_until_answering
from denbi_jupyter.prefect_db import seed_database

__all__ = [
    "PrefectLaunch",
    "PrefectServer",
    "api_answers",
    "prefect_command",
    "process_alive",
    "spawn_prefect",
    "stop_process_group",
]

_START_TIMEOUT_S = 120.0
_STOP_WAIT_S = 15.0


@dataclass(frozen=True, slots=True)
class PrefectLaunch:
    """What one ``prefect server start`` serves, and where.

    Attributes:
        home: ``PREFECT_HOME`` of the server (its SQLite database, settings, UI bundles).
        port: TCP port on 127.0.0.1.
        base_path: URL path the UI is served under, without trailing slash ("" for the root);
            the API is under ``<base_path>/api``.
        ui_api_url: What the UI in the browser uses to reach the API; by default the server's
            own address. Behind a proxy, the path the browser sees (``<base_path>/api``).
    """

    home: Path
    port: int
    base_path: str = ""
    ui_api_url: str | None = None

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The value for ``PREFECT_API_URL`` of processes on this machine."""
        return f"{self.origin}{self.base_path}/api"

    @property
    def ui_url(self) -> str:
        """The UI, straight from the server (not through a proxy)."""
        return f"{self.origin}{self.base_path}/"

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` plus the settings of this server (any ``PREFECT_API_URL`` removed)."""
        env = {
            **base,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_LOG_RETRYABLE_ERRORS": "true",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_API_URL": self.ui_api_url or self.api_url,
            "PREFECT_SERVER_UI_STATIC_DIRECTORY": str(self.static_directory),
        }
        env.pop("PREFECT_API_URL", None)
        if self.base_path:
            env["PREFECT_SERVER_UI_SERVE_BASE"] = self.base_path
            env["PREFECT_SERVER_API_BASE_PATH"] = f"{self.base_path}/api"
        else:
            for name in ("PREFECT_SERVER_UI_SERVE_BASE", "PREFECT_SERVER_API_BASE_PATH"):
                env.pop(name, None)
        return env

    @property
    def static_directory(self) -> Path:
        """Where the server keeps the UI bundles rewritten for its base path."""
        tag = hashlib.sha256(self.base_path.encode()).hexdigest()[:10]
        return self.home / "ui-static" / tag


def prefect_command() -> Path:
    """The ``prefect`` console script next to this interpreter."""
    return Path(sys.executable).with_name("prefect")


def spawn_prefect(
    launch: PrefectLaunch, *, log_file: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``prefect server start`` for ``launch`` in its own session; return at once.

    A new home gets the prepared empty database first (:mod:`denbi_jupyter.prefect_db`).

    Args:
        launch: What to serve.
        log_file: Where the server's output goes (appended); discarded if None.
    """
    launch.home.mkdir(parents=True, exist_ok=True)
    seed_database(launch.home)
    output = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115
    try:
        return subprocess.Popen(
            [
                str(prefect_command()),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(launch.port),
            ],
            env=launch.environment(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=output if output is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if output is not None else subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if output is not None:
            output.close()


def api_answers(api_url: str, *, timeout_s: float = 2.0) -> bool:
    """True when ``<api_url>/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def process_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (and, where ``/proc`` tells, is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def stop_process_group(pid: int, *, process: subprocess.Popen[bytes] | None = None) -> None:
    """Stop the process group led by ``pid``: SIGTERM, then SIGKILL if it is still there.

    Args:
        pid: The group leader (a process started with ``start_new_session=True``).
        process: Its :class:`~subprocess.Popen` when we started it (reaped, no zombie left).
    """
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)
        if _ended(pid, process, _STOP_WAIT_S):
            return


def _ended(pid: int, process: subprocess.Popen[bytes] | None, timeout_s: float) -> bool:
    if process is not None:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout_s
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)  # not our child: nothing to wait on but its pid
    return True


class PrefectServer(StopsOnExit):
    """``prefect server start`` on 127.0.0.1 in its own session; a context manager.

    Args:
        port: TCP port on 127.0.0.1.
        home: ``PREFECT_HOME`` of the server (its SQLite database and settings).
    """

    def __init__(self, *, port: int, home: Path) -> None:
        self.port = port
        self.home = home
        self._launch = PrefectLaunch(home=home, port=port)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ui_url(self) -> str:
        """The Prefect UI."""
        return self._launch.origin

    @property
    def api_url(self) -> str:
        """The value for ``PREFECT_API_URL``."""
        return self._launch.api_url

    def start(self) -> PrefectServer:
        """Start the server and return once its API answers (at most two minutes)."""
        self._process = spawn_prefect(self._launch)
        try:
            wait_until_answering(
                f"{self.api_url}/health",
                process=self._process,
                what="The Prefect server",
                timeout_s=_START_TIMEOUT_S,
                exited_hint=f"run '{prefect_command()} server start' to see why.",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and its workers (its process group); idempotent."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process.pid, process=process)

    def __enter__(self) -> PrefectServer:
        return self.start()
