"""Our own waiters for long cloud operations: bounded, with growing poll intervals.

openstacksdk's ``wait_for_image`` fails only on status ``error``, which Glance never uses, so a
``killed`` or vanished snapshot spins until its timeout. These waiters end on every failure
state at once with an :class:`~denbi_jupyter.errors.OperationFailedError` that says what
happened, always stop at their deadline, and poll at growing intervals (a snapshot of a big VM
takes minutes, a test cloud's a fraction of a second).

They are plain functions over a :class:`CloudClient`, a :class:`Clock` and a progress callback,
so unit tests drive them with a fake cloud and a fake clock; the flows wrap them in tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import Image, Server
from denbi_jupyter.connect import ProbeResult, probe_tcp
from denbi_jupyter.errors import CloudUnavailableError, ConflictError, OperationFailedError

__all__ = [
    "SNAPSHOT_TASK_STATES",
    "SYSTEM_CLOCK",
    "Backoff",
    "Clock",
    "ProgressCallback",
    "wait_for_port",
    "wait_for_server_active",
    "wait_for_server_gone",
    "wait_for_server_status",
    "wait_for_snapshot",
    "wait_until_idle",
]

#: Called with (fraction or None, status line).
ProgressCallback = Callable[[float | None, str], None]

#: Nova task states of a running snapshot, in order, with the share of the work done.
SNAPSHOT_TASK_STATES: dict[str, float] = {
    "image_snapshot_pending": 0.10,
    "image_snapshot": 0.25,
    "image_pending_upload": 0.45,
    "image_uploading": 0.60,
}
_GLANCE_PROGRESS: dict[str, float] = {"queued": 0.05, "saving": 0.70, "active": 0.95}
_GLANCE_FAILED = frozenset({"killed", "deleted", "pending_delete", "error"})
_BUILD_PROGRESS: dict[str | None, float] = {
    "scheduling": 0.15,
    None: 0.25,
    "networking": 0.35,
    "block_device_mapping": 0.45,
    "spawning": 0.70,
}
#: Consecutive failed polls (cloud unreachable, 5xx) a waiter tolerates before giving up.
MAX_POLL_FAILURES = 5

_T = TypeVar("_T")


class Clock(Protocol):
    """Time as the waiters see it."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Pause for ``seconds``."""
        ...


class _SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Clock = _SystemClock()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Poll intervals: ``first``, then times ``factor`` each poll, never above ``cap``.

    The default grows slowly (x1.15: 2 s is reached after about 12 s of waiting), so a short
    operation is noticed within ~15 % of its duration (x1.3 noticed a 2.6 s snapshot only at
    3.5 s, see ``benchmarks/flows_overhead.py``), while a long one costs one poll per 2 s.
    """

    first: float = 0.2
    factor: float = 1.15
    cap: float = 2.0

    def intervals(self) -> Iterator[float]:
        """The endless sequence of intervals."""
        interval = self.first
        while True:
            yield interval
            interval = min(self.cap, interval * self.factor)


class _Polls:
    """Counts consecutive failed polls and sleeps within the deadline."""

    def __init__(self, clock: Clock, backoff: Backoff, timeout_s: float, what: str) -> None:
        self.clock = clock
        self.deadline = clock.now() + timeout_s
        self.timeout_s = timeout_s
        self.what = what
        self.failures = 0
        self._intervals = backoff.intervals()

    def fetch(self, call: Callable[[], _T], state: str) -> _T:
        """Call ``call`` until it answers; a failed poll counts, then waits (last ``state``)."""
        while True:
            try:
                result = call()
            except CloudUnavailableError as exc:
                self.failed(exc)
                self.pause_or_timeout(state)
                continue
            self.failures = 0
            return result

    def failed(self, error: CloudUnavailableError) -> None:
        self.failures += 1
        if self.failures >= MAX_POLL_FAILURES:
            raise OperationFailedError(
                f"Lost contact with the cloud while waiting for {self.what} "
                f"({self.failures} failed polls, last: {error}). Check its state later."
            ) from error

    def pause_or_timeout(self, state: str) -> None:
        remaining = self.deadline - self.clock.now()
        if remaining <= 0:
            raise OperationFailedError(
                f"Timed out after {self.timeout_s:.0f} s waiting for {self.what} (last state: "
                f"{state}). It may still finish: check it later, or delete it and try again."
            )
        self.clock.sleep(min(next(self._intervals), remaining))


def _read_snapshot(
    client: CloudClient, image_id: str, server_id: str | None
) -> tuple[Image | None, Server | None]:
    image = client.get_image(image_id)
    return image, client.get_server(server_id) if server_id is not None else None


def _snapshot_status(image: Image, task_state: str | None) -> str:
    return f"Glance {image.status}, Nova task {task_state or 'none'}"


def wait_for_snapshot(
    client: CloudClient,
    *,
    server_id: str,
    image_id: str,
    timeout_s: float,
    on_progress: ProgressCallback,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = Backoff(),
) -> Image:
    """Follow a snapshot until Glance says ``active`` and Nova's task state clears.

    Nova goes ``image_snapshot_pending`` → ``image_snapshot`` → [``image_pending_upload`` →]
    ``image_uploading`` → none; Glance ``queued`` → ``saving`` → ``active``. Glance turns
    active slightly before Nova clears its task state; waiting for both means a second
    snapshot of the same VM right after this one does not meet a 409.

    Returns:
        The active image.

    Raises:
        OperationFailedError: The image ended ``killed`` (or deleted), vanished, the cloud
            could not be reached for several polls, or ``timeout_s`` passed.
    """
    polls = _Polls(clock, backoff, timeout_s, f"snapshot {image_id}")
    done = 0.0
    seen_glance: str | None = None
    seen_nova: str | None = "-"
    state = "not polled yet"
    nova_settled = False
    while True:
        read = partial(_read_snapshot, client, image_id, None if nova_settled else server_id)
        image, server = polls.fetch(read, state)
        if image is None:
            raise OperationFailedError(
                f"Snapshot {image_id} vanished while it was being made (Glance answers 404): "
                "the cloud dropped it. Try again, preferably with the VM stopped."
            )
        if image.status in _GLANCE_FAILED:
            raise OperationFailedError(
                f"Snapshot {image.name!r} ({image_id}) ended with Glance status "
                f"{image.status!r}: the upload failed. Delete it and try again, preferably "
                "with the VM stopped."
            )
        task_state = server.task_state if server is not None else None
        nova_settled = nova_settled or task_state not in SNAPSHOT_TASK_STATES
        state = _snapshot_status(image, task_state)
        if task_state != seen_nova and (task_state in SNAPSHOT_TASK_STATES or seen_nova != "-"):
            done = max(done, SNAPSHOT_TASK_STATES.get(task_state or "", 0.9))
            on_progress(done, f"Nova: {task_state or 'snapshot taken'}")
        seen_nova = task_state
        if image.status != seen_glance:
            done = max(done, _GLANCE_PROGRESS.get(image.status, done))
            on_progress(done, f"Glance: {image.status}")
            seen_glance = image.status
        if image.status == "active" and nova_settled:
            on_progress(1.0, "Snapshot active")
            return image
        polls.pause_or_timeout(state)


#: Server states that never turn ACTIVE without a user's action.
_AT_REST = frozenset({"SHUTOFF", "SUSPENDED", "PAUSED", "SHELVED", "SHELVED_OFFLOADED"})


def wait_for_server_active(
    client: CloudClient,
    *,
    server_id: str,
    timeout_s: float,
    on_progress: ProgressCallback,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = Backoff(),
) -> Server:
    """Follow a booting server until it is ACTIVE.

    Raises:
        OperationFailedError: The server went to ERROR (the message carries Nova's fault),
            vanished, the cloud could not be reached for several polls, or ``timeout_s``
            passed.
        ConflictError: The server is at rest (SHUTOFF, SUSPENDED, …): a re-run found it so.
    """
    polls = _Polls(clock, backoff, timeout_s, f"server {server_id} to become ACTIVE")
    seen: tuple[str, str | None] | None = None
    done = 0.0
    state = "not polled yet"
    while True:
        server = polls.fetch(lambda: client.get_server(server_id), state)
        if server is None:
            raise OperationFailedError(
                f"Server {server_id} vanished while booting (Nova answers 404): it was "
                "deleted or never scheduled. Try again."
            )
        if server.status == "ERROR":
            fault = server.fault
            reason = f": {fault}" if fault else ""
            raise OperationFailedError(
                f"Server {server.name!r} ({server_id}) failed to boot and is in ERROR{reason}. "
                "Delete it, then try another flavor or site."
            )
        if server.status in _AT_REST and not server.task_state:
            raise ConflictError(
                f"Server {server.name!r} ({server_id}) exists but is {server.status}: it will "
                "not become ACTIVE by itself. Start (or resume) it, then run this again."
            )
        state = f"{server.status}, task {server.task_state or 'none'}"
        if (server.status, server.task_state) != seen:
            seen = (server.status, server.task_state)
            if server.status == "ACTIVE":
                on_progress(1.0, "Nova: ACTIVE")
                return server
            done = max(done, _BUILD_PROGRESS.get(server.task_state, done))
            on_progress(done, f"Nova: {server.status} {server.task_state or ''}".rstrip())
        polls.pause_or_timeout(state)


def wait_for_server_status(
    client: CloudClient,
    *,
    server_id: str,
    status: str,
    timeout_s: float,
    on_progress: ProgressCallback,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = Backoff(),
) -> Server:
    """Follow a server after stop, start or reboot until it is ``status`` with no task state.

    Nova sets the action's task state (``powering-off``, ``rebooting``, …) before it answers
    the request, so a server seen in ``status`` without a task state has finished; a reboot
    passes through ``REBOOT`` (or ``HARD_REBOOT``) and comes back ACTIVE.

    Raises:
        OperationFailedError: The server went to ERROR (with Nova's fault), vanished, the
            cloud could not be reached for several polls, or ``timeout_s`` passed.
    """
    polls = _Polls(clock, backoff, timeout_s, f"server {server_id} to become {status}")
    seen: tuple[str, str | None] | None = None
    state = "not polled yet"
    while True:
        server = polls.fetch(lambda: client.get_server(server_id), state)
        if server is None:
            raise OperationFailedError(
                f"Server {server_id} vanished while we waited for it to become {status} "
                "(Nova answers 404): someone deleted it."
            )
        if server.status == "ERROR":
            reason = f": {server.fault}" if server.fault else ""
            raise OperationFailedError(
                f"Server {server.name!r} ({server_id}) went to ERROR instead of {status}"
                f"{reason}. Try a hard reboot, or delete it."
            )
        state = f"{server.status}, task {server.task_state or 'none'}"
        if server.status == status and not server.task_state:
            on_progress(1.0, f"Nova: {status}")
            return server
        if (server.status, server.task_state) != seen:
            seen = (server.status, server.task_state)
            on_progress(None, f"Nova: {server.status} {server.task_state or ''}".rstrip())
        polls.pause_or_timeout(state)


#: Statuses of a server that is gone although Nova may still show it for a moment.
_GONE = frozenset({"DELETED", "SOFT_DELETED"})


def wait_for_server_gone(
    client: CloudClient,
    *,
    server_id: str,
    timeout_s: float,
    on_progress: ProgressCallback,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = Backoff(),
) -> None:
    """Follow a deleted server until Nova answers 404 (right after the delete it may still
    show the server, with task state ``deleting``).

    Raises:
        OperationFailedError: The server went to ERROR, the cloud could not be reached for
            several polls, or ``timeout_s`` passed with the server still there.
    """
    polls = _Polls(clock, backoff, timeout_s, f"server {server_id} to be deleted")
    state = "not polled yet"
    while True:
        server = polls.fetch(lambda: client.get_server(server_id), state)
        if server is None or server.status in _GONE:
            on_progress(1.0, "Nova: deleted")
            return
        if server.status == "ERROR":
            reason = f": {server.fault}" if server.fault else ""
            raise OperationFailedError(
                f"Server {server.name!r} ({server_id}) went to ERROR while being deleted"
                f"{reason}. Try deleting it again, or ask the site's support."
            )
        new_state = f"{server.status}, task {server.task_state or 'none'}"
        if new_state != state:
            on_progress(None, f"Nova: {server.status} {server.task_state or ''}".rstrip())
        state = new_state
        polls.pause_or_timeout(state)


def wait_until_idle(
    client: CloudClient,
    *,
    server_id: str,
    timeout_s: float,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = Backoff(),
) -> Server:
    """Wait until the server has no task state (e.g. another snapshot has finished).

    Raises:
        OperationFailedError: The server vanished, the cloud could not be reached, or
            ``timeout_s`` passed with the server still busy.
    """
    polls = _Polls(clock, backoff, timeout_s, f"server {server_id} to finish its current task")
    state = "not polled yet"
    while True:
        server = polls.fetch(lambda: client.get_server(server_id), state)
        if server is None:
            raise OperationFailedError(f"Server {server_id} vanished while we waited for it.")
        if server.task_state is None:
            return server
        state = f"task {server.task_state}"
        polls.pause_or_timeout(state)


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout_s: float,
    on_progress: ProgressCallback,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = Backoff(first=1.0, factor=1.5, cap=10.0),
    probe: Callable[[str, int], ProbeResult] | None = None,
) -> ProbeResult:
    """Probe ``host:port`` until it accepts a TCP connection.

    Raises:
        OperationFailedError: The port did not open within ``timeout_s``.
    """
    check = probe or (lambda h, p: probe_tcp(h, p, timeout=3.0))
    polls = _Polls(clock, backoff, timeout_s, f"SSH port {port} on {host} to open")
    on_progress(None, f"Waiting for SSH on {host}:{port}")
    while True:
        result = check(host, port)
        if result.reachable:
            on_progress(1.0, f"SSH port {port} on {host} is reachable")
            return result
        polls.pause_or_timeout(result.error or "not reachable")
