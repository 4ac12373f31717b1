"""The lab's Prefect server: found in the state file or started, watched, and stopped.

:meth:`LabPrefect.begin` decides at once, under the state file's lock, which server the lab
uses: the recorded one when its process is alive, it serves the same base path and its API
answers (or it is still starting, recently, for another lab), else a new
``prefect server start`` on a free port (spawning does not wait for it). So the API URL is
known before the lab serves anything, and the kernels inherit it; a daemon thread then waits
until the API answers (state ``starting`` → ``ready`` or ``failed``). Only the lab that
started the server stops it, when the lab's process exits.
"""

from __future__ import annotations

import atexit
import enum
import logging
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from denbi_jupyter.labserver._record import (
    ServerRecord,
    locked,
    read_record,
    remove_record,
    write_record,
)
from denbi_jupyter.prefect_server import (
    PrefectLaunch,
    api_answers,
    process_alive,
    spawn_prefect,
    stop_process_group,
)

__all__ = ["LabPrefect", "PrefectState", "PrefectStatus"]

_log = logging.getLogger(__name__)

#: How long a Prefect server may take to answer after it was started.
START_TIMEOUT_S = 120.0
_POLL_S = 0.25
_LOG_FILE = "server.log"


class PrefectState(enum.StrEnum):
    """Where the lab's Prefect server is."""

    STARTING = "starting"
    READY = "ready"
    EXTERNAL = "external"
    FAILED = "failed"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class PrefectStatus:
    """A snapshot of the lab's Prefect server.

    Attributes:
        state: Where it is.
        api_url: ``PREFECT_API_URL`` of the kernels ("" when disabled).
        port: Its port on 127.0.0.1 when the lab proxies to it.
        pid: Its process id, when this lab knows it.
        owned: True when this lab started it (and stops it).
        error: Why it failed ("" otherwise).
    """

    state: PrefectState
    api_url: str
    port: int | None = None
    pid: int | None = None
    owned: bool = False
    error: str = ""


class LabPrefect:
    """The Prefect server of one lab process.

    Args:
        state_dir: The folder of the state file, ``PREFECT_HOME`` and the server's log.
        base_path: The URL path the server serves under, e.g. ``/user/alice/denbi-jupyter/prefect``.
    """

    def __init__(self, *, state_dir: Path, base_path: str) -> None:
        self.state_dir = state_dir
        self.base_path = base_path.rstrip("/")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._status = PrefectStatus(state=PrefectState.DISABLED, api_url="")

    @property
    def status(self) -> PrefectStatus:
        """The current status (a ready server that was not ours and exited is ``failed``)."""
        with self._lock:
            status = self._status
        if status.state is PrefectState.READY and status.pid and not process_alive(status.pid):
            self._set(PrefectState.FAILED, error=f"The Prefect server (pid {status.pid}) exited.")
        with self._lock:
            return self._status

    def begin(self) -> str:
        """Find or start the server, start watching it; return its ``PREFECT_API_URL``."""
        with locked(self.state_dir):
            record = read_record(self.state_dir)
            reuse = self._reusable(record)
            record = reuse if reuse is not None else self._spawn()
        with self._lock:
            self._status = PrefectStatus(
                state=PrefectState.STARTING,
                api_url=record.api_url,
                port=record.port,
                pid=record.pid,
                owned=self._process is not None,
            )
        if self._process is not None:
            atexit.register(self.stop)
        threading.Thread(
            target=self._watch, args=(record,), name="denbi-prefect-watch", daemon=True
        ).start()
        return record.api_url

    def _reusable(self, record: ServerRecord | None) -> ServerRecord | None:
        """``record`` when its server can serve this lab (running, or starting recently)."""
        if record is None or record.base_path != self.base_path:
            return None
        if not process_alive(record.pid):
            return None
        if api_answers(record.api_url, timeout_s=1.0):
            return record
        if time.time() - record.started_at < START_TIMEOUT_S:
            return record  # another lab is starting it right now
        _log.warning(
            "denbi-jupyter: the recorded Prefect server (pid %s) does not answer", record.pid
        )
        return None

    def _spawn(self) -> ServerRecord:
        """Start a server on a free port and record it (hold the state lock)."""
        port = _free_port()
        launch = PrefectLaunch(
            home=self.state_dir,
            port=port,
            base_path=self.base_path,
            ui_api_url=f"{self.base_path}/api",
        )
        self._process = spawn_prefect(launch, log_file=self.state_dir / _LOG_FILE)
        record = ServerRecord.new(pid=self._process.pid, port=port, base_path=self.base_path)
        write_record(self.state_dir, record)
        _log.info("denbi-jupyter: started a Prefect server (pid %s) on port %s", record.pid, port)
        return record

    def _watch(self, record: ServerRecord) -> None:
        """Wait until the API answers, the process ends, or the deadline passes."""
        deadline = record.started_at + START_TIMEOUT_S
        while not self._stopping.is_set():
            if api_answers(record.api_url, timeout_s=2.0):
                self._set(PrefectState.READY)
                return
            ended = self._ended(record)
            if ended:
                self._failed(ended)
                return
            if time.time() > deadline:
                self._failed(f"The Prefect server did not answer within {START_TIMEOUT_S:.0f} s.")
                return
            self._stopping.wait(_POLL_S)

    def _ended(self, record: ServerRecord) -> str:
        """Why the server is gone ("" while it runs)."""
        if self._process is not None:
            code = self._process.poll()
            if code is None:
                return ""
            return f"The Prefect server exited with code {code} while starting."
        return "" if process_alive(record.pid) else "The Prefect server exited while starting."

    def _failed(self, error: str) -> None:
        log = self.state_dir / _LOG_FILE
        self._set(PrefectState.FAILED, error=f"{error} Its log: {log}")
        _log.error("denbi-jupyter: %s (log: %s)", error, log)
        self.stop()

    def _set(self, state: PrefectState, *, error: str = "") -> None:
        with self._lock:
            status = self._status
            self._status = PrefectStatus(
                state=state,
                api_url=status.api_url,
                port=status.port,
                pid=status.pid,
                owned=status.owned,
                error=error,
            )

    def stop(self) -> None:
        """Stop the server if this lab started it; idempotent."""
        self._stopping.set()
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        with locked(self.state_dir):
            remove_record(self.state_dir, pid=process.pid)
        stop_process_group(process.pid, process=process)
        _log.info("denbi-jupyter: stopped the Prefect server (pid %s)", process.pid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
