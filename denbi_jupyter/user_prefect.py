"""One Prefect server per user, shared by the lab, its kernels and every command.

Without ``PREFECT_API_URL`` each process would start Prefect's ephemeral API on the same SQLite
database; twenty ``snapshot create --no-wait`` at once then lose work (start-up timeouts,
SQLite errors). Instead every process of the user finds the server recorded in the state
folder (:func:`~denbi_jupyter.labserver._paths.prefect_state_dir`) or starts it, once, under the
folder's lock (:func:`find_or_start`), and holds a **lease** while it uses it: a shared
``flock`` on ``<state dir>/users.lock``, dropped by the kernel when the process ends, however it
ends. A server is stopped only when nobody holds a lease (:func:`lease_free`), so stopping it
never kills another process's flows:

* a server a command started stays up (its ``--no-wait`` children and the next commands use
  it; a start costs 10-20 s) until ``denbi-jupyter prefect stop`` (:func:`stop_server`);
* the lab that started one stops it at exit, or leaves it up when leases are held (it then
  stays up like a command's, ``owner_pid`` 0);
* a lab serves the UI under its own path, which the server must have been started with. A
  command starts its server with the base path the last lab used (:func:`preferred_base_path`),
  so that lab reuses it; a lab that finds another base path takes the server over (stops it,
  starts its own on the same database) only when no lease is held and no live lab owns it,
  otherwise it shares it as it is (:func:`takeover_allowed`).

Nothing here imports Prefect: the lab's server extension uses it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

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

__all__ = [
    "DEFAULT_BASE_PATH",
    "START_TIMEOUT_S",
    "Lease",
    "ServerInUseError",
    "UserServer",
    "find_or_start",
    "find_running",
    "free_port",
    "hand_over",
    "lease_free",
    "preferred_base_path",
    "remember_base_path",
    "reusable",
    "spawn_recorded",
    "stop_server",
    "takeover_allowed",
    "usable",
    "use_server",
]

#: How long a Prefect server may take to answer after it was started.
START_TIMEOUT_S = 120.0
#: The path a lab at ``/`` serves the Prefect UI under (``<base_url>denbi-jupyter/prefect``).
DEFAULT_BASE_PATH = "/denbi-jupyter/prefect"
LOG_FILE = "server.log"
_LEASES = "users.lock"
_BASE_FILE = "lab-base-path"
_POLL_S = 0.25


class ServerInUseError(RuntimeError):
    """The server is in use (leases held, or a live lab owns it): it was not stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Lease:
    """A shared lock on ``<state dir>/users.lock``: "this process uses the user's server".

    Args:
        state_dir: The state folder.
    """

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._handle: IO[bytes] | None = open(state_dir / _LEASES, "a+b")  # noqa: SIM115
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_SH)

    def release(self) -> None:
        """Drop the lease; idempotent."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()  # closing drops the flock

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def lease_free(state_dir: Path) -> bool:
    """True when no process holds a :class:`Lease` (not even this one, through another file)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(state_dir / _LEASES, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


def preferred_base_path(state_dir: Path) -> str:
    """The base path for a server a command starts: the last lab's, else JupyterHub's, else /."""
    with contextlib.suppress(OSError):
        remembered = (state_dir / _BASE_FILE).read_text(encoding="utf-8").strip()
        if remembered.startswith("/"):
            return remembered.rstrip("/")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "").strip("/")
    return f"/{prefix}{DEFAULT_BASE_PATH}" if prefix else DEFAULT_BASE_PATH


def remember_base_path(state_dir: Path, base_path: str) -> None:
    """Note the base path a lab serves the UI under, for the servers commands start."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (state_dir / _BASE_FILE).write_text(base_path.rstrip("/") + "\n", encoding="utf-8")


def reusable(record: ServerRecord | None) -> bool:
    """True when ``record``'s server runs and answers, or was started less than a while ago."""
    if record is None or not process_alive(record.pid):
        return False
    if api_answers(record.api_url, timeout_s=1.0):
        return True
    return time.time() - record.started_at < START_TIMEOUT_S


def usable(state_dir: Path, record: ServerRecord | None) -> bool:
    """True when ``record``'s server is the one to use: never a second one on its database.

    A server that runs but has not answered for :data:`START_TIMEOUT_S` is hung: it is stopped
    (and False returned) only when nobody holds a lease; otherwise the others wait on it, and
    their wait ends with an error naming its log. Hold the state lock.
    """
    if record is None or not process_alive(record.pid) or not _is_prefect(record):
        return False
    if reusable(record):
        return True
    if not lease_free(state_dir):
        return True
    stop_process_group(record.pid)
    remove_record(state_dir, pid=record.pid)
    return False


def takeover_allowed(state_dir: Path, record: ServerRecord) -> bool:
    """True when stopping ``record``'s server hurts nobody: no lease, no live owning lab.

    Hold :func:`~denbi_jupyter.labserver._record.locked`.
    """
    if record.owner_pid and record.owner_pid != os.getpid() and process_alive(record.owner_pid):
        return False
    return lease_free(state_dir)


def spawn_recorded(
    state_dir: Path, *, base_path: str, started_by: str, owner_pid: int = 0
) -> tuple[subprocess.Popen[bytes], ServerRecord]:
    """Start ``prefect server start`` on a free port and record it (hold the state lock)."""
    port = free_port()
    launch = PrefectLaunch(
        home=state_dir, port=port, base_path=base_path, ui_api_url=f"{base_path}/api"
    )
    process = spawn_prefect(launch, log_file=state_dir / LOG_FILE)
    record = ServerRecord.new(
        pid=process.pid,
        port=port,
        base_path=base_path,
        started_by=started_by,
        owner_pid=owner_pid,
    )
    write_record(state_dir, record)
    return process, record


@dataclass(frozen=True, slots=True)
class UserServer:
    """The server a process uses, and whether this process started it.

    Attributes:
        record: Its state-file record.
        started: True when this call started it.
    """

    record: ServerRecord
    started: bool

    @property
    def api_url(self) -> str:
        """Its ``PREFECT_API_URL``."""
        return self.record.api_url

    @property
    def ui_url(self) -> str:
        """Its UI, straight from the server."""
        return f"http://127.0.0.1:{self.record.port}{self.record.base_path}/"


def find_or_start(state_dir: Path, *, started_by: str = "cli") -> tuple[UserServer, Lease]:
    """The recorded server when it can serve, else a new one; with this process's lease.

    The lease is taken under the state lock, so nobody stops the server in between. A server
    started here is not a child to wait for: it outlives this process.
    """
    with locked(state_dir):
        record = read_record(state_dir)
        started = False
        if record is None or not usable(state_dir, record):
            _process, record = spawn_recorded(
                state_dir, base_path=preferred_base_path(state_dir), started_by=started_by
            )
            started = True
        return UserServer(record=record, started=started), Lease(state_dir)


def find_running(state_dir: Path) -> tuple[UserServer, Lease] | None:
    """The recorded server when it runs and answers, with this process's lease; else None.

    For kernels outside a lab: they use the user's server when there is one, and never start
    one (a notebook run by a test or a script would leave it behind).
    """
    with locked(state_dir):
        record = read_record(state_dir)
        if record is None or not process_alive(record.pid):
            return None
        if not api_answers(record.api_url, timeout_s=2.0):
            return None
        return UserServer(record=record, started=False), Lease(state_dir)


def _wait_answering(state_dir: Path, record: ServerRecord, deadline: float) -> bool:
    """True once ``record``'s API answers; False when its process ended first."""
    while time.monotonic() < deadline:
        if api_answers(record.api_url, timeout_s=2.0):
            return True
        if not process_alive(record.pid):
            return False
        time.sleep(_POLL_S)  # a server starting in another session: nothing to wait on but HTTP
    raise TimeoutError(
        f"The user's Prefect server (pid {record.pid}) did not answer within "
        f"{START_TIMEOUT_S:.0f} s; its log: {state_dir / LOG_FILE}"
    )


@contextlib.contextmanager
def use_server(state_dir: Path, *, started_by: str = "cli") -> Iterator[UserServer]:
    """Find or start the user's server, hold a lease on it and wait until it answers.

    A server that dies while starting (e.g. its port was taken) is started again once.

    Raises:
        TimeoutError: It did not answer within :data:`START_TIMEOUT_S` (message with the log).
        RuntimeError: It exited twice while starting.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    for _attempt in range(2):
        server, lease = find_or_start(state_dir, started_by=started_by)
        try:
            if _wait_answering(state_dir, server.record, deadline):
                yield server
                return
        finally:
            lease.release()
    raise RuntimeError(
        f"The user's Prefect server exited while starting; see {state_dir / LOG_FILE}."
    )


def stop_server(state_dir: Path, *, force: bool = False) -> ServerRecord | None:
    """Stop the user's server unless it is in use; return its record (None: none ran).

    Args:
        state_dir: The state folder.
        force: Stop it even when leases are held or a lab owns it.

    Raises:
        ServerInUseError: It is in use and ``force`` is False.
    """
    with locked(state_dir):
        record = read_record(state_dir)
        if record is None:
            return None
        if not process_alive(record.pid) or not _is_prefect(record):
            remove_record(state_dir, pid=record.pid)  # gone, or its pid now names another
            return None
        if not force and not takeover_allowed(state_dir, record):
            owner = record.owner_pid
            raise ServerInUseError(
                f"The Prefect server (pid {record.pid}) is in use"
                + (f" by the lab (pid {owner}), which stops it when it exits" if owner else "")
                + ": commands or labs are running flows on it. Stop them first, or pass --force."
            )
        stop_process_group(record.pid)
        remove_record(state_dir, pid=record.pid)
        return record


def _is_prefect(record: ServerRecord) -> bool:
    """True when ``record``'s pid is still a Prefect server (it answers, or /proc says so)."""
    if api_answers(record.api_url, timeout_s=2.0):
        return True
    try:
        return b"prefect" in Path(f"/proc/{record.pid}/cmdline").read_bytes()
    except OSError:
        return False


def hand_over(state_dir: Path, record: ServerRecord) -> ServerRecord:
    """Leave ``record``'s server running for others: nobody owns it any more (hold the lock)."""
    released = replace(record, owner_pid=0)
    write_record(state_dir, released)
    return released
