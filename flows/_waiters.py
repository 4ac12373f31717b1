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

import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import Image, Server
from denbi_jupyter.connect import ProbeResult, probe_tcp
from denbi_jupyter.errors import ConflictError, OperationFailedError
from flows._polling import poll_until

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


def _server_state(server: Server) -> str:
    return f"{server.status}, task {server.task_state or 'none'}"


def _nova_line(server: Server) -> str:
    return f"Nova: {server.status} {server.task_state or ''}".rstrip()


def _raise_if_error(server: Server, what_happened: str, advice: str) -> None:
    """Raise when the server is in ERROR: ``Server 'name' (id) <what_happened>: fault. ...``."""
    if server.status == "ERROR":
        reason = f": {server.fault.rstrip('. ')}" if server.fault else ""
        raise OperationFailedError(
            f"Server {server.name!r} ({server.id}) {what_happened}{reason}. {advice}"
        )


def _existing_server(client: CloudClient, server_id: str, vanished: str) -> Callable[[], Server]:
    """A read of the server that raises ``OperationFailedError(vanished)`` on a 404."""

    def read() -> Server:
        server = client.get_server(server_id)
        if server is None:
            raise OperationFailedError(vanished)
        return server

    return read


class _NovaChanges:
    """Remembers the last (status, task state) seen, to report each change once."""

    def __init__(self) -> None:
        self._seen: tuple[str, str | None] | None = None

    def new(self, server: Server) -> bool:
        """Whether ``server``'s status or task state differs from the last one seen."""
        current = (server.status, server.task_state)
        changed = current != self._seen
        self._seen = current
        return changed


class _SnapshotWatch:
    """What :func:`wait_for_snapshot` reads and reports on each poll."""

    def __init__(
        self, client: CloudClient, server_id: str, image_id: str, on_progress: ProgressCallback
    ) -> None:
        self.client = client
        self.server_id = server_id
        self.image_id = image_id
        self.on_progress = on_progress
        self.done = 0.0
        self.seen_glance: str | None = None
        self.seen_nova: str | None = "-"
        self.nova_settled = False

    def read(self) -> tuple[Image, str | None]:
        image = self.client.get_image(self.image_id)
        server_id = None if self.nova_settled else self.server_id
        server = self.client.get_server(server_id) if server_id is not None else None
        if image is None:
            raise OperationFailedError(
                f"Snapshot {self.image_id} vanished while it was being made (Glance answers "
                "404): the cloud dropped it. Try again, preferably with the VM stopped."
            )
        if image.status in _GLANCE_FAILED:
            raise OperationFailedError(
                f"Snapshot {image.name!r} ({self.image_id}) ended with Glance status "
                f"{image.status!r}: the upload failed. Delete it and try again, preferably "
                "with the VM stopped."
            )
        return image, server.task_state if server is not None else None

    def finished(self, read: tuple[Image, str | None]) -> bool:
        image, task_state = read
        self.nova_settled = self.nova_settled or task_state not in SNAPSHOT_TASK_STATES
        seen_nova, self.seen_nova = self.seen_nova, task_state
        if task_state != seen_nova and (task_state in SNAPSHOT_TASK_STATES or seen_nova != "-"):
            self.done = max(self.done, SNAPSHOT_TASK_STATES.get(task_state or "", 0.9))
            self.on_progress(self.done, f"Nova: {task_state or 'snapshot taken'}")
        if image.status != self.seen_glance:
            self.done = max(self.done, _GLANCE_PROGRESS.get(image.status, self.done))
            self.on_progress(self.done, f"Glance: {image.status}")
            self.seen_glance = image.status
        if image.status == "active" and self.nova_settled:
            self.on_progress(1.0, "Snapshot active")
            return True
        return False


def _snapshot_status(read: tuple[Image, str | None]) -> str:
    image, task_state = read
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
    watch = _SnapshotWatch(client, server_id, image_id, on_progress)
    image, _ = poll_until(
        watch.read,
        done=watch.finished,
        state=_snapshot_status,
        what=f"snapshot {image_id}",
        timeout_s=timeout_s,
        clock=clock,
        backoff=backoff,
    )
    return image


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
    changes = _NovaChanges()
    done = 0.0

    def active(server: Server) -> bool:
        nonlocal done
        _raise_if_error(
            server,
            "failed to boot and is in ERROR",
            f"It still counts against the quota: delete it (denbi-jupyter server delete "
            f"{shlex.quote(server.name)}, or Delete in the panel's Servers tab), then try "
            "another flavor or site.",
        )
        if server.status in _AT_REST and not server.task_state:
            raise ConflictError(
                f"Server {server.name!r} ({server_id}) exists but is {server.status}: it will "
                "not become ACTIVE by itself. Start (or resume) it, then run this again."
            )
        if not changes.new(server):
            return False
        if server.status == "ACTIVE":
            on_progress(1.0, "Nova: ACTIVE")
            return True
        done = max(done, _BUILD_PROGRESS.get(server.task_state, done))
        on_progress(done, _nova_line(server))
        return False

    vanished = (
        f"Server {server_id} vanished while booting (Nova answers 404): it was "
        "deleted or never scheduled. Try again."
    )
    return poll_until(
        _existing_server(client, server_id, vanished),
        done=active,
        state=_server_state,
        what=f"server {server_id} to become ACTIVE",
        timeout_s=timeout_s,
        clock=clock,
        backoff=backoff,
    )


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
    changes = _NovaChanges()

    def reached(server: Server) -> bool:
        _raise_if_error(
            server, f"went to ERROR instead of {status}", "Try a hard reboot, or delete it."
        )
        if server.status == status and not server.task_state:
            on_progress(1.0, f"Nova: {status}")
            return True
        if changes.new(server):
            on_progress(None, _nova_line(server))
        return False

    vanished = (
        f"Server {server_id} vanished while we waited for it to become {status} "
        "(Nova answers 404): someone deleted it."
    )
    return poll_until(
        _existing_server(client, server_id, vanished),
        done=reached,
        state=_server_state,
        what=f"server {server_id} to become {status}",
        timeout_s=timeout_s,
        clock=clock,
        backoff=backoff,
    )


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
    changes = _NovaChanges()

    def gone(server: Server | None) -> bool:
        if server is None or server.status in _GONE:
            on_progress(1.0, "Nova: deleted")
            return True
        _raise_if_error(
            server,
            "went to ERROR while being deleted",
            "Try deleting it again, or ask the site's support.",
        )
        if changes.new(server):
            on_progress(None, _nova_line(server))
        return False

    poll_until(
        lambda: client.get_server(server_id),
        done=gone,
        state=lambda server: _server_state(server) if server is not None else "gone",
        what=f"server {server_id} to be deleted",
        timeout_s=timeout_s,
        clock=clock,
        backoff=backoff,
    )


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
    return poll_until(
        _existing_server(client, server_id, f"Server {server_id} vanished while we waited for it."),
        done=lambda server: server.task_state is None,
        state=lambda server: f"task {server.task_state}",
        what=f"server {server_id} to finish its current task",
        timeout_s=timeout_s,
        clock=clock,
        backoff=backoff,
    )


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
    on_progress(None, f"Waiting for SSH on {host}:{port}")

    def reachable(result: ProbeResult) -> bool:
        if result.reachable:
            on_progress(1.0, f"SSH port {port} on {host} is reachable")
        return result.reachable

    return poll_until(
        lambda: check(host, port),
        done=reachable,
        state=lambda result: result.error or "not reachable",
        what=f"SSH port {port} on {host} to open",
        timeout_s=timeout_s,
        clock=clock,
        backoff=backoff,
    )
