"""The lab's Prefect server: the user's one (:mod:`denbi_jupyter.user_prefect`), watched.

:meth:`LabPrefect.begin` decides at once, under the state file's lock, which server the lab
uses. The recorded one when it runs (or started recently) and serves the lab's base path;
when it serves another base path (a command started it, or another lab), the lab takes it
over (stops it and starts its own on the same database) only if nobody uses it (no lease, no
live owning lab), else it shares it as it is (its API proxied under the lab's path; its UI
pages then name the server's own path). With no usable record it starts
``prefect server start`` on a free port (spawning does not wait for it). So the API URL is
known before the lab serves anything, and the kernels inherit it; a daemon thread then waits
until the API answers (state ``starting`` → ``ready`` or ``failed``). A lab that uses a server
it did not start holds a lease on it. The lab that started the server stops it when the lab's
process exits, unless leases are held (commands still running flows on it): then it leaves it
running for them (``denbi-jupyter prefect stop`` stops it later).
"""

from __future__ import annotations

import atexit
import enum
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from denbi_jupyter.labserver._record import ServerRecord, locked, read_record, remove_record
from denbi_jupyter.prefect_server import api_answers, process_alive, stop_process_group
from denbi_jupyter.user_prefect import (
    LOG_FILE,
    START_TIMEOUT_S,
    Lease,
    hand_over,
    lease_free,
    remember_base_path,
    spawn_recorded,
    takeover_allowed,
    usable,
)

__all__ = ["LabPrefect", "PrefectState", "PrefectStatus"]

_log = logging.getLogger(__name__)

_POLL_S = 0.25
_LOG_FILE = LOG_FILE


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
        base_path: The path the server serves under ("" when the lab does not proxy it).
    """

    state: PrefectState
    api_url: str
    port: int | None = None
    pid: int | None = None
    owned: bool = False
    error: str = ""
    base_path: str = ""


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
        self._lease: Lease | None = None
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
            record = self._choose(read_record(self.state_dir))
            if self._process is None:
                self._lease = Lease(self.state_dir)  # taken under the lock: nobody stops it
        remember_base_path(self.state_dir, self.base_path)
        with self._lock:
            self._status = PrefectStatus(
                state=PrefectState.STARTING,
                api_url=record.api_url,
                port=record.port,
                pid=record.pid,
                owned=self._process is not None,
                base_path=record.base_path,
            )
        if self._process is not None:
            atexit.register(self.stop)
        threading.Thread(
            target=self._watch, args=(record,), name="denbi-prefect-watch", daemon=True
        ).start()
        return record.api_url

    def _choose(self, record: ServerRecord | None) -> ServerRecord:
        """The server this lab uses: reused, shared, taken over or new (hold the state lock)."""
        if record is None or not usable(self.state_dir, record):
            return self._spawn()
        if record.base_path == self.base_path:
            return record
        if not takeover_allowed(self.state_dir, record):
            _log.warning(
                "denbi-jupyter: sharing the Prefect server (pid %s) that serves %s: it is in "
                "use, so it is not restarted for %s (its UI pages name its own path)",
                record.pid,
                record.base_path or "/",
                self.base_path,
            )
            return record
        _log.info(
            "denbi-jupyter: taking over the idle Prefect server (pid %s) for %s",
            record.pid,
            self.base_path,
        )
        stop_process_group(record.pid)
        remove_record(self.state_dir, pid=record.pid)
        return self._spawn()

    def _spawn(self) -> ServerRecord:
        """Start a server on a free port and record it (hold the state lock)."""
        self._process, record = spawn_recorded(
            self.state_dir, base_path=self.base_path, started_by="lab", owner_pid=os.getpid()
        )
        _log.info(
            "denbi-jupyter: started a Prefect server (pid %s) on port %s", record.pid, record.port
        )
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
        self._stop(broken=True)

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
                base_path=status.base_path,
            )

    def stop(self) -> None:
        """Drop this lab's lease; stop the server if this lab started it and nobody uses it.

        Idempotent. With leases held (commands running flows on it) the server stays up and
        nobody owns it any more.
        """
        self._stop(broken=False)

    def _stop(self, *, broken: bool) -> None:
        self._stopping.set()
        with self._lock:
            process, self._process = self._process, None
            lease, self._lease = self._lease, None
        if lease is not None:
            lease.release()
        if process is None:
            return
        with locked(self.state_dir):
            record = read_record(self.state_dir)
            mine = record is not None and record.pid == process.pid
            if broken or not mine or lease_free(self.state_dir):
                remove_record(self.state_dir, pid=process.pid)
                stop_process_group(process.pid, process=process)
                _log.info("denbi-jupyter: stopped the Prefect server (pid %s)", process.pid)
                return
            assert record is not None
            hand_over(self.state_dir, record)
        _log.info(
            "denbi-jupyter: left the Prefect server (pid %s) running: commands use it "
            "('denbi-jupyter prefect stop' stops it)",
            process.pid,
        )
