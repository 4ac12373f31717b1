"""Run cloud calls off the kernel thread and hand their results back to a panel.

A panel never waits for the network: it calls :meth:`Background.submit` with a key ("images",
"page", "probe"), a blocking call and two callbacks. The call runs on a thread pool; only
the newest submission per key delivers its result, so a slow answer to an old keystroke never
overwrites a newer one. Failures of the call go to ``on_error``; failures of the callbacks
themselves go to the panel's :class:`ActivityLog`, where the user sees them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

import ipywidgets as w

from denbi_jupyter.errors import DenbiError

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job

__all__ = ["ActivityLog", "Background", "LogEntry", "Outcome", "describe_error", "guarded"]

T = TypeVar("T")
_POOLS = itertools.count(1)


def describe_error(exc: BaseException) -> str:
    """Words a user can act on: our own messages as they are, anything else named as a bug."""
    if isinstance(exc, DenbiError):
        return str(exc)
    text = str(exc).strip()
    detail = f": {text}" if text else ""
    return (
        f"Unexpected {type(exc).__name__}{detail}. This is a bug in denbi-jupyter; "
        "the details are in the activity log below."
    )


def guarded(log: ActivityLog, handler: Callable[..., object], what: str) -> Callable[..., None]:
    """``handler`` for a widget event, with failures written to ``log`` instead of vanishing.

    JupyterLab shows nothing when a click or change handler raises; this makes it visible.
    """

    def run(*args: object) -> None:
        try:
            handler(*args)
        except Exception as exc:  # noqa: BLE001 - shown in the log: JupyterLab would drop it
            log.error(what, exc)

    return run


class Outcome(StrEnum):
    """How far a job an :class:`ActivityLog` entry is about has come."""

    STARTED = "started"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of the :class:`ActivityLog`.

    Attributes:
        time: When it was logged (local time, aware).
        text: What happened, e.g. ``started job 'Snapshot vm1 → nightly' on bielefeld``.
        outcome: Set where the entry is about a job: started, done or failed.
    """

    time: dt.datetime
    text: str
    outcome: Outcome | None = None

    def shown(self) -> str:
        """The entry as the log shows it: ``HH:MM:SS  text``."""
        return f"{self.time:%H:%M:%S}  {self.text}"


class ActivityLog(w.VBox):  # type: ignore[misc]
    """A visible log area: what the panels did, with times and job outcomes; errors never
    vanish silently.

    Writes are thread-safe: each entry goes to the ``Output`` under a lock, and past
    ``max_lines`` the ``Output`` is rebuilt from the kept entries so it stays bounded.
    """

    def __init__(self, *, max_lines: int = 400) -> None:
        self._output = w.Output(
            layout=w.Layout(max_height="180px", overflow="auto", border="1px solid #dee2e6")
        )
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()
        self._max_lines = max_lines
        self._accordion = w.Accordion(children=[self._output], titles=("Activity log",))
        self._accordion.selected_index = None
        super().__init__(children=[self._accordion])
        self.add_class("denbi-activity-log")

    @property
    def expanded(self) -> bool:
        """Whether the log's lines are shown (not folded away)."""
        return bool(self._accordion.selected_index == 0)

    @expanded.setter
    def expanded(self, value: bool) -> None:
        self._accordion.selected_index = 0 if value else None

    @property
    def lines(self) -> tuple[str, ...]:
        """The text of every entry kept (newest last), without its time."""
        with self._lock:
            return tuple(entry.text for entry in self._entries)

    @property
    def entries(self) -> tuple[LogEntry, ...]:
        """Every entry kept (newest last)."""
        with self._lock:
            return tuple(self._entries)

    def info(self, message: str) -> None:
        """Log one line."""
        self._write(message)

    def error(self, context: str, exc: BaseException) -> None:
        """Log a failure; unexpected ones with their traceback."""
        self._write(f"ERROR {context}: {describe_error(exc)}")
        if not isinstance(exc, DenbiError):
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self._write(trace.rstrip())
            self._accordion.selected_index = 0

    def follow_job(
        self, job: Job, *, site: str = "", describe_result: Callable[[object], str] | None = None
    ) -> None:
        """Log that ``job`` started and, once, how it ended (done with its result, or failed
        with its reason)."""
        where = f" on {site}" if site else ""
        what = f"job {job.title!r}{where}"
        self._write(f"started {what}", Outcome.STARTED)
        ended: list[bool] = []  # appended once, under the lock: one end entry per job
        lock = threading.Lock()

        def update(done: Job) -> None:
            with lock:
                if not done.done or ended:
                    return
                ended.append(True)
            if done.state.value == "completed":
                detail = describe_result(done.result) if describe_result else "finished."
                self._write(f"done {what}: {detail}", Outcome.DONE)
            else:
                reason = done.error or "the job failed without saying why."
                self._write(f"failed {what}: {reason}", Outcome.FAILED)

        job.on_update(update)

    def _write(self, text: str, outcome: Outcome | None = None) -> None:
        entry = LogEntry(time=dt.datetime.now().astimezone(), text=text, outcome=outcome)
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) <= self._max_lines:
                self._output.append_stdout(entry.shown() + "\n")
                return
            del self._entries[: -self._max_lines]
            kept = "".join(f"{kept.shown()}\n" for kept in self._entries)
            self._output.outputs = ({"output_type": "stream", "name": "stdout", "text": kept},)


class Background:
    """A small thread pool for cloud calls with newest-wins delivery per key.

    Calls run in parallel; their callbacks (``on_result``, ``on_error``: the panels' state
    updates) run one at a time, so two answers landing together (a catalog and its private
    uploads) never interleave their trait updates and leave a view out of step.

    Args:
        log: Where failing callbacks are reported.
        max_workers: Threads in the pool (started only when calls are waiting). The default
            leaves room for every part of a panel to wait on a site whose Keystone hangs
            while another site's calls still run: with 4, the snapshot panel's four calls to
            a hung site held every thread and the next site loaded only when they gave up.
    """

    def __init__(self, log: ActivityLog, *, max_workers: int = 32) -> None:
        self.log = log
        #: Names of this pool's threads start with this.
        self.thread_prefix = f"denbi-panel-{next(_POOLS)}"
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix=self.thread_prefix
        )
        self._closed = False
        self._lock = threading.Condition()
        self._deliveries = threading.RLock()
        self._generation: dict[str, int] = {}
        self._pending = 0
        self._timers: dict[str, _Delayed] = {}

    def submit(
        self,
        key: str,
        call: Callable[[], T],
        *,
        on_result: Callable[[T], None],
        on_error: Callable[[BaseException], None],
        delay: float = 0.0,
    ) -> None:
        """Run ``call`` in the pool (after ``delay`` seconds, restarting any pending delay).

        Only the newest submission for ``key`` calls back; older ones finish silently.
        """
        with self._lock:
            if self._closed:
                return
            generation = self._generation.get(key, 0) + 1
            self._generation[key] = generation
            self._pending += 1
            previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()

        def work() -> None:
            try:
                self._run(key, generation, call, on_result, on_error)
            finally:
                self._finish()

        if delay <= 0:
            self._start(work)
            return
        timer = _Delayed(delay, lambda: self._start(work), on_cancel=self._finish)
        with self._lock:
            self._timers[key] = timer
        timer.start()

    def _start(self, work: Callable[[], None]) -> None:
        try:
            self._pool.submit(work)
        except RuntimeError:  # closed meanwhile: the work never runs
            self._finish()

    def _finish(self) -> None:
        with self._lock:
            self._pending -= 1
            self._lock.notify_all()

    def cancel(self, key: str) -> None:
        """Make any pending call for ``key`` finish without calling back."""
        with self._lock:
            self._generation[key] = self._generation.get(key, 0) + 1
            timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_prefix(self, prefix: str) -> None:
        """:meth:`cancel` every key that starts with ``prefix`` (a closed panel's calls)."""
        with self._lock:
            keys = [key for key in self._generation if key.startswith(prefix)]
        for key in keys:
            self.cancel(key)

    def is_current(self, key: str, generation: int) -> bool:
        """True while ``generation`` is the newest submission for ``key``."""
        with self._lock:
            return self._generation.get(key) == generation

    def _run(
        self,
        key: str,
        generation: int,
        call: Callable[[], T],
        on_result: Callable[[T], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        try:
            value = call()
        except Exception as exc:  # noqa: BLE001 - any failure goes to on_error, bugs also to the log
            if not self.is_current(key, generation):
                return
            if not isinstance(exc, DenbiError):
                self.log.error(key, exc)
            self._deliver(key, generation, on_error, exc)
            return
        self._deliver(key, generation, on_result, value)

    def _deliver(self, key: str, generation: int, callback: Callable[[T], None], value: T) -> None:
        with self._deliveries:  # one state update at a time; still the newest once it is our turn
            if not self.is_current(key, generation):
                return
            try:
                callback(value)
            except Exception as exc:  # noqa: BLE001 - a panel update's bug goes to the log
                self.log.error(f"{key} (updating the panel)", exc)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every submitted call (and its callbacks) has finished; for tests."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self) -> None:
        """Stop accepting work; running calls finish in the background, without calling back."""
        with self._lock:
            self._closed = True
            timers = list(self._timers.values())
            self._timers.clear()
            for key in self._generation:
                self._generation[key] += 1
        for timer in timers:
            timer.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self, timeout: float = 10.0) -> None:
        """:meth:`shutdown`, then wait up to ``timeout`` s for the pool's threads to end.

        Idempotent. A call stuck in the network past ``timeout`` ends on its own later (its
        result is dropped); the kernel is never blocked longer than ``timeout``.
        """
        self.shutdown()
        deadline = time.monotonic() + timeout
        for thread in self.threads():
            thread.join(max(0.0, deadline - time.monotonic()))

    def threads(self) -> list[threading.Thread]:
        """The pool's threads that are still alive."""
        prefix = f"{self.thread_prefix}_"
        return [th for th in threading.enumerate() if th.name.startswith(prefix)]


class _Delayed:
    """A one-shot timer that runs exactly one of ``action`` or ``on_cancel``."""

    def __init__(
        self, delay: float, action: Callable[[], object], *, on_cancel: Callable[[], None]
    ) -> None:
        self._action = action
        self._on_cancel = on_cancel
        self._lock = threading.Lock()
        self._settled = False
        self._timer = threading.Timer(delay, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def _settle(self) -> bool:
        with self._lock:
            if self._settled:
                return False
            self._settled = True
            return True

    def _fire(self) -> None:
        if self._settle():
            self._action()

    def cancel(self) -> None:
        self._timer.cancel()
        if self._settle():
            self._on_cancel()
