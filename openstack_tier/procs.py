"""Process bookkeeping: start daemons in their own session, record them, stop them by PID.

Each started process gets a JSON record in the pid folder with its PID and its start time from
`/proc/<pid>/stat`, so a record never matches a later process that reuses the PID. Stopping
sends SIGTERM to the process group the daemon leads, waits, then sends SIGKILL to whatever is
left of the tree seen before the stop (daemon children that made their own session included).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "ProcessRecord",
    "ProcessTable",
    "descendants",
    "is_alive",
    "rss_kib",
    "start_ticks",
]

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    head, _, tail = raw.rpartition(")")
    if not head:
        return None
    return tail.split()  # tail[0] is field 3 (state)


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _state_and_ppid(pid: int) -> tuple[str, int] | None:
    fields = _stat_fields(pid)
    return (fields[0], int(fields[1])) if fields else None


def is_alive(pid: int, ticks: int | None = None) -> bool:
    """True while the process exists, is no zombie, and (if given) started at `ticks`."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return ticks is None or int(fields[19]) == ticks


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid`, found through the parent links in /proc."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        info = _state_and_ppid(int(entry.name))
        if info is not None:
            children.setdefault(info[1], []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_kib(pids: Iterable[int]) -> int:
    """Sum of the resident set sizes (VmRSS, KiB) of the given processes that still exist."""
    total = 0
    for pid in set(pids):
        try:
            status = (_PROC / str(pid) / "status").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
                break
    return total


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One daemon the tier started."""

    name: str
    pid: int
    ticks: int
    seq: int
    argv: tuple[str, ...]

    def alive(self) -> bool:
        return is_alive(self.pid, self.ticks)

    def tree(self) -> list[int]:
        """The daemon and its live descendants."""
        return [self.pid, *descendants(self.pid)] if self.alive() else []


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collects the exit status if the process is our child (a no-op otherwise)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


class ProcessTable:
    """The records of the daemons started from one run folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stop_seconds: dict[str, float] = {}  # how long each stopped daemon took

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def records(self) -> list[ProcessRecord]:
        """All records, in start order."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.json"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            found.append(ProcessRecord(**{**data, "argv": tuple(data["argv"])}))
        return sorted(found, key=lambda record: record.seq)

    def get(self, name: str) -> ProcessRecord | None:
        return next((r for r in self.records() if r.name == name), None)

    def running(self, name: str) -> bool:
        record = self.get(name)
        return record is not None and record.alive()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> ProcessRecord:
        """Starts `argv` in a new session with output appended to `log`, and records it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        ticks = start_ticks(proc.pid)
        seq = max((r.seq for r in self.records()), default=0) + 1
        record = ProcessRecord(name, proc.pid, ticks or 0, seq, tuple(argv))
        self._path(name).write_text(json.dumps(asdict(record)))
        return record

    def stop(self, name: str, *, timeout: float = 15.0) -> bool:
        """Stops one daemon and its tree; True if it had been running."""
        return bool(self.stop_many([name], timeout=timeout))

    def stop_many(self, names: Iterable[str], *, timeout: float = 15.0) -> list[str]:
        """Stops several daemons at once (SIGTERM to all, one shared deadline, then SIGKILL).

        Returns the names that were running.
        """
        records = [r for r in self.records() if r.name in set(names)]
        running = [r for r in records if r.alive()]
        self.stop_seconds.update(_terminate_trees(running, timeout))
        for record in records:
            self._path(record.name).unlink(missing_ok=True)
        return [r.name for r in running]

    def stop_all(
        self, *, last: Sequence[str] = (), timeouts: Mapping[str, float] | None = None
    ) -> list[str]:
        """Stops every recorded daemon: all but `last` together, then `last` one by one.

        Returns the names that were running.
        """
        limits = timeouts or {}
        names = [r.name for r in reversed(self.records())]
        first = [name for name in names if name not in last]
        stopped = self.stop_many(
            first, timeout=max((limits.get(n, 15.0) for n in first), default=0)
        )
        for name in last:
            stopped += self.stop_many([name], timeout=limits.get(name, 15.0))
        return stopped

    def rss_kib(self) -> int:
        """Resident memory of every recorded daemon tree, summed over PIDs."""
        return rss_kib(pid for record in self.records() for pid in record.tree())


def _terminate_trees(records: Sequence[ProcessRecord], timeout: float) -> dict[str, float]:
    """SIGTERM to each leader, wait for every tree, SIGKILL whatever is left.

    Returns the seconds each daemon's tree took to go.
    """
    trees = {r.name: {pid: start_ticks(pid) for pid in r.tree()} for r in records}
    for record in records:
        _signal(record.pid, signal.SIGTERM)
    start = time.monotonic()
    took: dict[str, float] = {}

    def any_alive() -> bool:
        for record in records:
            _reap(record.pid)
        for name, tree in trees.items():
            if name not in took and not any(is_alive(pid, t) for pid, t in tree.items()):
                took[name] = time.monotonic() - start
        return len(took) < len(trees)

    while any_alive():
        if time.monotonic() - start > timeout:
            for name, tree in trees.items():
                for pid, ticks in tree.items():
                    if name not in took and is_alive(pid, ticks):
                        _signal(pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    kill_deadline = time.monotonic() + 5.0
    while any_alive() and time.monotonic() < kill_deadline:
        time.sleep(0.05)
    return took
