"""The state file of the per-user Prefect server: which process serves where, under a lock.

``<state dir>/server.json`` holds ``pid``, ``port``, ``base_path``, ``started_at``,
``started_by`` and ``owner_pid`` of the one Prefect server of the user, whoever started it (a
lab or a command: :mod:`denbi_jupyter.user_prefect`). Everybody reads and writes it only while
holding an exclusive ``fcntl`` lock on ``<state dir>/server.lock``, so processes starting at
once start one server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["ServerRecord", "locked", "read_record", "remove_record", "write_record"]

_RECORD = "server.json"
_LOCK = "server.lock"


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """The user's Prefect server.

    Attributes:
        pid: Its process id (the leader of its process group).
        port: Its TCP port on 127.0.0.1.
        base_path: The URL path it serves under (UI there, API under ``<base_path>/api``).
        started_at: When it was started (seconds since the epoch).
        started_by: ``"lab"`` or ``"cli"`` (a command, a kernel), for ``prefect status``.
        owner_pid: The lab that stops it when it exits; 0 when nobody does (it stays up until
            ``denbi-jupyter prefect stop``).
    """

    pid: int
    port: int
    base_path: str
    started_at: float
    started_by: str = "lab"
    owner_pid: int = 0

    @classmethod
    def new(
        cls, *, pid: int, port: int, base_path: str, started_by: str = "lab", owner_pid: int = 0
    ) -> ServerRecord:
        """A record of a server started now."""
        return cls(
            pid=pid,
            port=port,
            base_path=base_path,
            started_at=time.time(),
            started_by=started_by,
            owner_pid=owner_pid,
        )

    @property
    def api_url(self) -> str:
        """Its API as processes on this machine reach it."""
        return f"http://127.0.0.1:{self.port}{self.base_path}/api"


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of the state folder ``folder`` (created, mode 0700)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / _LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_record(folder: Path) -> ServerRecord | None:
    """The record in ``folder``; None when there is none or it is unreadable."""
    try:
        data = json.loads((folder / _RECORD).read_text(encoding="utf-8"))
        return ServerRecord(
            pid=int(data["pid"]),
            port=int(data["port"]),
            base_path=str(data["base_path"]),
            started_at=float(data["started_at"]),
            started_by=str(data.get("started_by", "lab")),
            owner_pid=int(data.get("owner_pid", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(folder: Path, record: ServerRecord) -> None:
    """Replace the record in ``folder`` atomically (hold :func:`locked`)."""
    temporary = folder / f".{_RECORD}.{os.getpid()}"
    temporary.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    temporary.replace(folder / _RECORD)


def remove_record(folder: Path, *, pid: int) -> None:
    """Remove the record in ``folder`` if it still names ``pid`` (hold :func:`locked`)."""
    record = read_record(folder)
    if record is not None and record.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            (folder / _RECORD).unlink()
