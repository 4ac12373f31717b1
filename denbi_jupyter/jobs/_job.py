"""One flow run started from a kernel, as something a widget can watch."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows import FlowEvent

__all__ = ["MAX_LOG_LINES", "Job", "JobState"]

_log = logging.getLogger(__name__)

#: Log lines a job keeps (the oldest are dropped first).
MAX_LOG_LINES = 2000


class JobState(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


UpdateCallback = Callable[["Job"], None]


class Job:
    """One flow run started from a kernel; thread-safe and observable.

    The runner's worker thread changes it; everyone else reads its attributes and registers
    :meth:`on_update` callbacks, which run in the worker thread after every change.

    Attributes:
        id: Our id (uuid4 hex).
        title: What the job does, e.g. ``Snapshot vm1 → nightly-1``.
        site: The site its parameters name ("" when they name none).
        state: Where the job is.
        progress: 0.0..1.0, or None while it cannot be told.
        message: The last status line, e.g. ``Glance: saving``.
        logs: The run-logger lines so far (never secrets: flows hold none).
        result: The flow's return value once COMPLETED.
        error: One clear sentence once FAILED.
        error_type: The error's class name, e.g. ``ConflictError``.
        flow_run_id: Prefect's flow run id once known.
    """

    def __init__(self, title: str, *, site: str = "") -> None:
        self.id: str = uuid.uuid4().hex
        self.title: str = title
        self.site: str = site
        self.state: JobState = JobState.PENDING
        self.progress: float | None = None
        self.message: str = "Waiting to start"
        self.logs: tuple[str, ...] = ()
        self.result: object | None = None
        self.error: str | None = None
        self.error_type: str | None = None
        self.flow_run_id: str | None = None
        self._lock = threading.RLock()
        self._callbacks: list[UpdateCallback] = []
        self._done = threading.Event()
        self._reported = False

    def __repr__(self) -> str:
        return f"<Job {self.title!r} {self.state.value} {self.message!r}>"

    @property
    def done(self) -> bool:
        """True once COMPLETED or FAILED."""
        return self.state in (JobState.COMPLETED, JobState.FAILED)

    def on_update(self, callback: UpdateCallback) -> None:
        """Call ``callback(job)`` after each change (from the worker thread).

        A callback registered after the job finished is called once at once, so a late
        watcher still sees the end. Exceptions in callbacks are logged and never stop the job.
        """
        with self._lock:
            self._callbacks.append(callback)
            finished = self.done
        if finished:
            self._call(callback)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done or ``timeout`` seconds pass; return :attr:`done`."""
        return self._done.wait(timeout)

    # --- changed by the runner only -----------------------------------------------------
    def _call(self, callback: UpdateCallback) -> None:
        try:
            callback(self)
        except Exception:  # noqa: BLE001 - a widget's callback must never stop the job
            _log.exception("A job update callback failed (job %s); the job goes on", self.id)

    def _changed(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            self._call(callback)

    def _set_running(self) -> None:
        with self._lock:
            self.state = JobState.RUNNING
            self.message = "Starting"
        self._changed()

    def _waiting(self, message: str) -> None:
        with self._lock:
            self.message = message
        self._changed()

    def _remote(
        self,
        *,
        flow_run_id: str | None = None,
        state: JobState | None = None,
        progress: float | None = None,
        message: str | None = None,
        logs: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Take what a follower read about a run on a work pool; tells watchers on a change."""
        with self._lock:
            before = (self.flow_run_id, self.state, self.progress, self.message, self.logs)
            if flow_run_id and self.flow_run_id is None:
                self.flow_run_id = flow_run_id
            if state in (JobState.PENDING, JobState.RUNNING):
                self.state = state
            if progress is not None:
                self.progress, self._reported = progress, True
            if message:
                self.message = message
            if logs:
                self.logs = (*self.logs, *logs)[-MAX_LOG_LINES:]
            changed = before != (
                self.flow_run_id, self.state, self.progress, self.message, self.logs
            )  # fmt: skip
        if changed:
            self._changed()

    def _on_event(self, event: FlowEvent) -> None:
        """Take one progress or log event from the flow's progress channel."""
        with self._lock:
            if event.flow_run_id and self.flow_run_id is None:
                self.flow_run_id = event.flow_run_id
            if event.kind == "progress":
                self.progress = event.fraction
                self.message = event.message
                self._reported = True
            else:
                stamp = time.strftime("%H:%M:%S")
                line = f"{stamp} {logging.getLevelName(event.level)} {event.message}"
                self.logs = (*self.logs[-(MAX_LOG_LINES - 1) :], line)
        self._changed()

    def _finish(
        self,
        *,
        result: object | None = None,
        error: str | None = None,
        error_type: str | None = None,
        flow_run_id: str | None = None,
    ) -> None:
        with self._lock:
            if flow_run_id and self.flow_run_id is None:
                self.flow_run_id = flow_run_id
            if error is None:
                self.state = JobState.COMPLETED
                self.result = result
                self.progress = 1.0
                if not self._reported:  # else keep the flow's own last line
                    self.message = "Done"
            else:
                self.state = JobState.FAILED
                self.error = error
                self.error_type = error_type
                self.message = "Failed"
            self._done.set()
        self._changed()
