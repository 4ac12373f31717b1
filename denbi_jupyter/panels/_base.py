"""What every panel shares: clients by site, a background pool, a job runner, an error line.

:class:`Panel` is a ``VBox`` with the traits ``site`` and ``error`` and helpers to run work in
the background: :meth:`Panel._call` for work that needs the site's cloud client (it opens the
site, i.e. logs in, on first use) and :meth:`Panel._run_local` for work that does not (a PuTTY
key conversion, a TCP probe), so that local work keeps working while Keystone is down.
:meth:`Panel._start_job` starts a flow (named by :class:`~denbi_jupyter.jobs.FlowRef`) as a job;
:meth:`Shared.show_in_flight` finds the runs on a work pool that other kernels started.
Subclasses keep their state in traits and render in one ``_render()``; :meth:`Panel.close`
releases what a panel holds.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.panels._background import ActivityLog, Background, describe_error, guarded
from denbi_jupyter.panels._flows import FlowRef, submit_flow, warm_flows
from denbi_jupyter.panels._html import Tone, notice
from denbi_jupyter.panels._sites import ClientSource, SiteClients
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = ["InFlight", "Panel", "RunnerHandle", "Shared"]

T = TypeVar("T")
_JOB_KEYS = itertools.count(1)
#: Longest wait of the look for runs in flight for the runner to warm up, in seconds.
_WARM_WAIT_S = 180.0

#: Runs still in flight that no panel of a :class:`Shared` started, with their flows.
InFlight = Sequence[tuple[FlowRef, "Job"]]


class RunnerHandle:
    """The job runner, created and warmed up in the background so no click waits for Prefect.

    Args:
        runner: A runner to use; None creates one (importing Prefect) in a background thread.
    """

    def __init__(self, runner: JobRunner | None = None) -> None:
        self._runner = runner
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._started = False
        if runner is not None:
            self._ready.set()

    @property
    def held(self) -> bool:
        """True when a runner was given or is being created (asking for it costs nothing new)."""
        with self._lock:
            return self._runner is not None or self._started

    def warm_up(self) -> None:
        """Create (if needed) and warm the runner in a daemon thread; returns at once."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._prepare, name="denbi-runner-warmup", daemon=True).start()

    def _prepare(self) -> None:
        try:
            if self._runner is None:
                from denbi_jupyter.jobs import JobRunner

                self._runner = JobRunner()
            self._runner.warm_up()
        except BaseException as exc:  # noqa: BLE001 - kept and raised by get() in the caller
            self._error = exc
        finally:
            self._ready.set()
        warm_flows()  # import the flows (and Prefect) now, not on the first click

    def get(self, timeout: float = 120.0) -> JobRunner:
        """The runner (blocking until it exists; call from a background thread)."""
        self.warm_up()
        if not self._ready.wait(timeout):
            raise TimeoutError("the job runner did not start in time")
        if self._runner is None:
            raise RuntimeError(f"the job runner could not start: {self._error}") from self._error
        return self._runner


class Shared:
    """Things panels of one :class:`CloudPanel` share: clients, pool, runner and log.

    Args:
        clients: Clients by site name.
        runner: The job runner (created in the background when None).
        log: The activity log; a new one when None.
        debounce_s: Delay after a keystroke before a search runs.
        warm_up: Start the job runner (and Prefect) in the background when a panel opens.
    """

    def __init__(
        self,
        clients: SiteClients,
        *,
        runner: JobRunner | RunnerHandle | None = None,
        log: ActivityLog | None = None,
        debounce_s: float = 0.25,
        warm_up: bool = True,
    ) -> None:
        self.clients = clients
        self.runner = runner if isinstance(runner, RunnerHandle) else RunnerHandle(runner)
        self.log = log or ActivityLog()
        self.background = Background(self.log)
        self.debounce_s = debounce_s
        self.warm_up = warm_up
        self._jobs_lock = threading.Lock()
        self._started: set[str] = set()
        self._in_flight_asked = False
        self._closed = False

    @classmethod
    def of(
        cls,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        runner: JobRunner | None = None,
    ) -> Shared:
        """``source`` itself when it is a :class:`Shared`, else a new one around it."""
        if isinstance(source, Shared):
            return source
        return cls(SiteClients.of(source, sites), runner=runner)

    def warm_runner(self) -> None:
        """Warm the job runner up in the background, unless switched off."""
        if self.warm_up:
            self.runner.warm_up()

    def submit(self, runner: JobRunner, make: Callable[[JobRunner], Job]) -> Job:
        """``make(runner)``, a job a panel of this state starts (never shown as in flight)."""
        with self._jobs_lock:  # held while submitting: a look for runs in flight waits for it
            job = make(runner)
            self._started.add(job.id)
        return job

    def show_in_flight(self, show: Callable[[InFlight], None]) -> None:
        """Once: hand ``show`` the runs still going on the runner's work pool that no panel of
        this state started, as ``(flow, job)``; returns at once (a daemon thread asks).

        Nothing is asked without a work pool, nor when there is no runner and warming up is off.
        """
        with self._jobs_lock:
            if self._in_flight_asked or not (self.warm_up or self.runner.held):
                return
            self._in_flight_asked = True
        threading.Thread(
            target=guarded(self.log, self._find_in_flight, "runs in flight"),
            args=(show,),
            name="denbi-in-flight",
            daemon=True,
        ).start()

    def _find_in_flight(self, show: Callable[[InFlight], None]) -> None:
        runner = self.runner.get(_WARM_WAIT_S)
        if runner.work_pool is None:
            return
        runner.warm_up()
        if not runner.wait_warm(_WARM_WAIT_S):
            self.log.info("Runs in flight were not looked for: the Prefect backend did not start.")
            return
        try:
            jobs = runner.in_flight()
        except Exception as exc:  # noqa: BLE001 - said in the log; the panels work on
            self.log.info(
                f"Runs in flight on work pool {runner.work_pool.name!r} could not be "
                f"listed: {describe_error(exc)}"
            )
            return
        found: list[tuple[FlowRef, Job]] = []
        with self._jobs_lock:  # after any submit that put its job into the runner's list
            for job in jobs:
                flow = runner.flow_of(job)
                if job.id not in self._started and isinstance(flow, FlowRef):
                    found.append((flow, job))
        if found and not self._closed:
            show(found)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the pool (waiting up to ``timeout`` s for running calls) and close the clients.

        Idempotent. Jobs already handed to the runner keep running: they are the user's work.
        """
        self._closed = True
        self.background.close(timeout)
        self.clients.close()


class Panel(w.VBox):  # type: ignore[misc]
    """Base of the panels: site, error line, background calls and jobs.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the
            :class:`Shared` state of a parent panel.
        sites: Site names to offer with a factory.
        site: The site to show first; defaults to the first one.
        runner: The job runner; created in the background when needed.
    """

    site = t.Unicode("").tag(sync=False)
    error = t.Unicode("").tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        runner: JobRunner | None = None,
        **kwargs: Any,
    ) -> None:
        self._owns_shared = not isinstance(source, Shared)
        self.shared = Shared.of(source, sites=sites, runner=runner)
        self._error_box = w.HTML()
        super().__init__(**kwargs)
        self._open = True
        self.site = site or self.shared.clients.names[0]

    @staticmethod
    def _new_site_picker(*, visible: bool) -> w.Dropdown:
        """A site dropdown, hidden when a parent panel shows its own."""
        picker = w.Dropdown(description="Site", options=[], layout=w.Layout(width="240px"))
        picker.style.description_width = "40px"
        picker.layout.display = "" if visible else "none"
        return picker

    def _follow_site_picker(self, picker: w.Dropdown) -> None:
        """Offer the sites in ``picker`` and keep it and ``site`` in step (both ways)."""
        picker.options = list(self.clients.names)
        w.link((self, "site"), (picker, "value"))

    def _layout(self, children: Sequence[w.Widget]) -> None:
        """Set the panel's children, plus the activity log when the panel stands alone."""
        self.children = (*children, self.log) if self._owns_shared else tuple(children)

    @property
    def clients(self) -> SiteClients:
        """Clients by site name."""
        return self.shared.clients

    @property
    def background(self) -> Background:
        """The background pool."""
        return self.shared.background

    @property
    def log(self) -> ActivityLog:
        """The activity log."""
        return self.shared.log

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until pending background calls and their updates are done (tests, scripts)."""
        return self.background.wait_idle(timeout)

    # --- closing ------------------------------------------------------------------------------
    def _parts(self) -> Iterable[Panel]:
        """Panels inside this one (closed with it); none by default."""
        return ()

    def close(self) -> None:
        """Release the panel: its parts, its pending calls and, when it made them itself, its
        thread pool and cloud clients. Idempotent; running jobs go on.
        """
        if self.__dict__.pop("_open", False):
            for part in tuple(self._parts()):
                part.close()
            self.background.cancel_prefix(f"{id(self)}:")
            if self._owns_shared:
                self.shared.close()
        super().close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return not self.__dict__.get("_open", False)

    # --- events -------------------------------------------------------------------------------
    def _guard(self, handler: Callable[..., object]) -> Callable[..., None]:
        """A widget event handler whose failures show in the activity log and error line."""

        def failed(*args: object) -> None:
            try:
                handler(*args)
            except Exception as exc:  # noqa: BLE001 - a handler's bug must be shown, not lost
                self.log.error(f"{type(self).__name__} event", exc)
                self.error = describe_error(exc)

        return failed

    def _fire(self, dispatcher: w.CallbackDispatcher, *args: object) -> None:
        """Call every callback registered on ``dispatcher``, each guarded on its own."""
        for callback in list(dispatcher.callbacks):
            self._guard(callback)(*args)

    # --- background work ------------------------------------------------------------------------
    def _client(self) -> CloudClient:
        """The current site's client (blocking on first use: background only)."""
        return self.clients.get(self.site)

    def _call(
        self,
        key: str,
        call: Callable[[CloudClient], T],
        on_result: Callable[[T], None],
        *,
        busy: str | None = None,
        delay: float = 0.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``call(client)`` in the background for the current site (opening it if needed).

        Args:
            key: Newest-wins key: only the latest call with this key calls back.
            call: Receives the site's client.
            on_result: Gets the value (in a worker thread).
            busy: Name of a Bool trait set while the call runs.
            delay: Debounce delay in seconds.
            on_error: Gets the exception; by default it becomes the panel's error line.
        """
        site, clients = self.site, self.clients
        self._run_local(
            key, lambda: call(clients.get(site)), on_result,
            busy=busy, delay=delay, on_error=on_error,
        )  # fmt: skip

    def _run_local(
        self,
        key: str,
        work: Callable[[], T],
        on_result: Callable[[T], None],
        *,
        busy: str | None = None,
        delay: float = 0.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``work()`` in the background without opening a site (no login, no cloud).

        Arguments as :meth:`_call`.
        """
        if self.closed:
            return
        if busy:
            setattr(self, busy, True)

        def done(value: T) -> None:
            if busy:
                setattr(self, busy, False)
            on_result(value)

        def failed(exc: BaseException) -> None:
            if busy:
                setattr(self, busy, False)
            (on_error or self._show_error)(exc)

        self.background.submit(self._key(key), work, on_result=done, on_error=failed, delay=delay)

    def _key(self, key: str) -> str:
        return f"{id(self)}:{key}"

    def _cancel(self, key: str, *, busy: str | None = None) -> None:
        """Drop the pending call for ``key`` (its result will not be applied)."""
        self.background.cancel(self._key(key))
        if busy:
            setattr(self, busy, False)

    def _show_error(self, exc: BaseException) -> None:
        self.error = describe_error(exc)
        self.log.info(f"{type(self).__name__} on {self.site}: {self.error}")

    def _error_html(self) -> str:
        return notice(self.error, Tone.ERROR) if self.error else ""

    def _start_job(
        self,
        key: str,
        title: str,
        flow: FlowRef,
        parameters: dict[str, object],
        *,
        jobs: JobList,
        describe_result: Callable[[object], str],
        on_card: Callable[[JobCard], None] | None = None,
        busy: str | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Start ``flow`` as a background job and show it in ``jobs``; returns at once.

        A pending card appears at once; it becomes the job's card when the runner has accepted
        the job. The flow gets its clients from this panel.
        """
        if self.closed:
            return
        if busy:
            setattr(self, busy, True)
        site = str(parameters.get("site") or "")
        pending = jobs.add_pending(title, site=site)

        def submit() -> Job:
            job = self.shared.submit(
                self.shared.runner.get(),
                lambda runner: submit_flow(
                    runner, title, flow, parameters, clients=self.clients.get
                ),
            )
            self.log.follow_job(job, site=site, describe_result=describe_result)
            return job

        def done(job: Job) -> None:
            # Busy until ``on_card`` has run (it clears the form or the confirmation): a second
            # click that lands while the card is built finds the start still in flight.
            card = jobs.add(
                JobCard(job, describe_result=describe_result, site=site), replacing=pending
            )
            try:
                if on_card is not None:
                    on_card(card)
            finally:
                if busy:
                    setattr(self, busy, False)

        def failed(exc: BaseException) -> None:
            if busy:
                setattr(self, busy, False)
            jobs.drop_pending(pending)
            if on_error is not None:
                on_error(exc)
            self._show_error(exc)

        unique = f"{id(self)}:job:{key}:{next(_JOB_KEYS)}"
        self.background.submit(unique, submit, on_result=done, on_error=failed)
