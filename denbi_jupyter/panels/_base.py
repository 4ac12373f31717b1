"""What every panel shares: clients by site, a background pool, a job runner, an error line.

:class:`Panel` is a ``VBox`` with the traits ``site`` and ``error`` and helpers to run a cloud
call in the background (:meth:`Panel._call`) and to start a flow as a job
(:meth:`Panel._start_job`). Subclasses keep their state in traits and render in one
``_render()``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.panels._background import ActivityLog, Background, describe_error
from denbi_jupyter.panels._html import Tone, notice
from denbi_jupyter.panels._sites import ClientSource, SiteClients
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = ["Panel", "RunnerHandle", "Shared", "load_flow"]

T = TypeVar("T")
_JOB_KEYS = itertools.count(1)
#: The flows the panels start, imported during the warm-up.
_PANEL_FLOWS = ("boot:boot_server", "snapshot:create_snapshot", "delete:delete_snapshots")


def load_flow(reference: str) -> Callable[..., object]:
    """Import a flow named ``module:function`` from denbi-jupyter's ``flows`` package."""
    import importlib

    from denbi_jupyter.jobs import load_flows

    module_name, _, function = reference.partition(":")
    load_flows()
    module = importlib.import_module(f"flows.{module_name}")
    flow: Callable[..., object] = getattr(module, function)
    return flow


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
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()
        # Import the flows (and with them Prefect) now, not on the first click.
        for flow in _PANEL_FLOWS:
            try:
                load_flow(flow)
            except Exception:  # reported by the job that needs it
                return

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
        self.site = site or self.shared.clients.names[0]

    @staticmethod
    def _new_site_picker(*, visible: bool) -> w.Dropdown:
        """A site dropdown, hidden when a parent panel shows its own."""
        picker = w.Dropdown(description="Site", options=[], layout=w.Layout(width="240px"))
        picker.style.description_width = "40px"
        picker.layout.display = "" if visible else "none"
        return picker

    def _follow_site_picker(self, picker: w.Dropdown) -> None:
        """Offer the sites in ``picker``, show the current one and switch site on a pick."""
        picker.options = list(self.clients.names)
        picker.value = self.site
        picker.observe(self._guard(self._on_site_picked), names="value")

    def _on_site_picked(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.site = change["new"]

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

    def _guard(self, handler: Callable[..., object]) -> Callable[..., None]:
        """A widget event handler whose failures show in the activity log and error line."""

        def failed(*args: object) -> None:
            try:
                handler(*args)
            except Exception as exc:
                self.log.error(f"{type(self).__name__} event", exc)
                self.error = describe_error(exc)

        return failed

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
        """Run ``call(client)`` in the background for the current site.

        Args:
            key: Newest-wins key: only the latest call with this key calls back.
            call: Receives the site's client.
            on_result: Gets the value (in a worker thread).
            busy: Name of a Bool trait set while the call runs.
            delay: Debounce delay in seconds.
            on_error: Gets the exception; by default it becomes the panel's error line.
        """
        site = self.site
        if busy:
            setattr(self, busy, True)

        def run() -> T:
            return call(self.clients.get(site))

        def done(value: T) -> None:
            if busy:
                setattr(self, busy, False)
            on_result(value)

        def failed(exc: BaseException) -> None:
            if busy:
                setattr(self, busy, False)
            (on_error or self._show_error)(exc)

        self.background.submit(self._key(key), run, on_result=done, on_error=failed, delay=delay)

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
        flow: str,
        parameters: dict[str, object],
        *,
        jobs: JobList,
        describe_result: Callable[[object], str],
        on_card: Callable[[JobCard], None] | None = None,
        busy: str | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Start a flow as a background job and show it in ``jobs``; returns at once.

        A pending card appears at once; it becomes the job's card when the runner has accepted
        the job. ``flow`` names the flow as ``module:function`` inside the ``flows`` package
        (e.g. ``boot:boot_server``), so Prefect loads only when needed (usually already during
        the warm-up). The flow gets its clients from this panel (:func:`flows.use_clients`).
        """
        if busy:
            setattr(self, busy, True)
        pending = jobs.add_pending(title)

        def submit() -> Job:
            runner = self.shared.runner.get()
            function = load_flow(flow)
            from flows import use_clients

            with use_clients(self.clients.get):
                job = runner.submit(title, function, **parameters)
            self.log.info(f"started job {title!r}")
            return job

        def done(job: Job) -> None:
            if busy:
                setattr(self, busy, False)
            card = jobs.add(JobCard(job, describe_result=describe_result), replacing=pending)
            if on_card is not None:
                on_card(card)

        def failed(exc: BaseException) -> None:
            if busy:
                setattr(self, busy, False)
            jobs.drop_pending(pending)
            if on_error is not None:
                on_error(exc)
            self._show_error(exc)

        unique = f"{id(self)}:job:{key}:{next(_JOB_KEYS)}"
        self.background.submit(unique, submit, on_result=done, on_error=failed)
