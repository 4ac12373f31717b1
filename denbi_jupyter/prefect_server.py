"""A Prefect server on loopback for the demo: its UI, and no ephemeral start in each kernel.

Without ``PREFECT_API_URL`` every kernel starts Prefect's ephemeral API on its first flow
(10-20 s on a busy two-core machine). ``make demo`` starts one server for the lab instead,
waits until it answers, and hands its URL to the kernels, so the first click runs at once
and every run shows up in the Prefect UI.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from denbi_jupyter._serving import wait_until_answering
from denbi_jupyter.localcloud.server import StopsOnExit

__all__ = ["PrefectServer"]

_START_TIMEOUT_S = 120.0


class PrefectServer(StopsOnExit):
    """``prefect server start`` on 127.0.0.1 in its own session; a context manager.

    Args:
        port: TCP port on 127.0.0.1.
        home: ``PREFECT_HOME`` of the server (its SQLite database and settings).
    """

    def __init__(self, *, port: int, home: Path) -> None:
        self.port = port
        self.home = home
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ui_url(self) -> str:
        """The Prefect UI."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The value for ``PREFECT_API_URL``."""
        return f"{self.ui_url}/api"

    def start(self) -> PrefectServer:
        """Start the server and return once its API answers (at most two minutes)."""
        self.home.mkdir(parents=True, exist_ok=True)
        prefect = self._command()
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
        env.pop("PREFECT_API_URL", None)
        self._process = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _command() -> Path:
        """The ``prefect`` console script next to this interpreter."""
        return Path(sys.executable).with_name("prefect")

    def _wait_until_healthy(self) -> None:
        assert self._process is not None
        wait_until_answering(
            f"{self.api_url}/health",
            process=self._process,
            what="The Prefect server",
            timeout_s=_START_TIMEOUT_S,
            exited_hint=f"run '{self._command()} server start' to see why.",
        )

    def stop(self) -> None:
        """Stop the server and its workers (its process group: SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is None:
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
            try:
                process.wait(timeout=20)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> PrefectServer:
        return self.start()
