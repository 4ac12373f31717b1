"""Run flows in daemon threads from a kernel, several at once, without blocking it.

Or, with a work pool (:class:`~denbi_jupyter.jobs.WorkPool`, ``DENBI_WORK_POOL``), as runs of
their deployments that a worker runs and the kernel only follows (see
:mod:`denbi_jupyter.jobs._deployments`): they survive the kernel.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from denbi_jupyter.errors import DenbiError
from denbi_jupyter.jobs._backend import API_WAIT_S, Backend, wait_for_api
from denbi_jupyter.jobs._busy import start_while_busy
from denbi_jupyter.jobs._deployments import (
    DEPLOYMENTS,
    WorkPool,
    api_url,
    follow_run,
    in_flight_runs,
    job_for_run,
    start_run,
)
from denbi_jupyter.jobs._flows import FlowRef, load_flows, resolve_flow
from denbi_jupyter.jobs._job import Job

if TYPE_CHECKING:
    from uuid import UUID

    from prefect.client.schemas.objects import FlowRun

__all__ = ["JobRunner", "describe_failure"]

_log = logging.getLogger(__name__)

#: Longest wait of a job for the Prefect backend to warm up, in seconds (longer than the
#: backend's own bounded wait for a server at ``PREFECT_API_URL``, then its health check).
BACKEND_WAIT_S = API_WAIT_S + 30.0


def describe_failure(error: BaseException) -> tuple[str, str]:
    """One clear sentence and the class name for a flow's exception."""
    kind = type(error).__name__
    if isinstance(error, DenbiError):
        return str(error), kind
    text = str(error).strip() or "no details"
    return f"The flow failed unexpectedly ({kind}): {text}", kind


class JobRunner:
    """Runs flows in daemon threads (or on a work pool); several at once; never blocks.

    Each job runs in a copy of the caller's context taken at :meth:`submit` (so Prefect
    settings and :func:`flows.use_clients` reach it), with heartbeats off and the progress
    channel wired to the job.

    With a work pool, a :class:`FlowRef` that has a deployment (``prefect.yaml``) starts as a
    run of that deployment instead, followed through the Prefect API: the job looks the same
    (state, progress, message, logs, the typed result), but the flow runs on a worker, opens
    its site from the worker's ``clouds.yaml`` (the caller's :func:`use_clients` cannot travel)
    and goes on when this kernel ends. Plain callables still run in the kernel.

    Args:
        max_parallel: Flows running at once in the kernel; further jobs stay PENDING until a
            slot frees (runs on a pool take no slot).
        work_pool: The pool (or its name) to run deployments on; None reads
            ``DENBI_WORK_POOL`` (unset or empty: everything runs in the kernel).
    """

    def __init__(self, *, max_parallel: int = 4, work_pool: WorkPool | str | None = None) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, not {max_parallel}")
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._backend = Backend()
        self._lock = threading.Lock()
        self._jobs: list[Job] = []
        self._flows: dict[str, FlowRef | Callable[..., object]] = {}
        self._stop = threading.Event()
        if isinstance(work_pool, str):
            work_pool = WorkPool(work_pool)
        self._pool = work_pool if work_pool is not None else WorkPool.from_environment()

    @property
    def work_pool(self) -> WorkPool | None:
        """The pool deployments run on, or None when every flow runs in the kernel."""
        return self._pool

    def close(self) -> None:
        """Stop following runs on the pool (the runs themselves go on) and drop the lease on
        the user's Prefect server; idempotent."""
        self._stop.set()
        self._backend.close()

    def warm_up(self) -> None:
        """Start the Prefect backend in the background; idempotent; returns at once."""
        self._backend.start()

    @property
    def warm(self) -> bool:
        """True once the Prefect backend is up."""
        return self._backend.ready

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Block until warming up has ended (call :meth:`warm_up` first); True once warm."""
        self._backend.wait(timeout)
        return self._backend.ready

    @property
    def warm_up_seconds(self) -> float | None:
        """How long warming up took, once it has ended."""
        return self._backend.seconds

    @property
    def jobs(self) -> tuple[Job, ...]:
        """Every job submitted to this runner, oldest first."""
        with self._lock:
            return tuple(self._jobs)

    def submit(
        self, title: str, flow: FlowRef | Callable[..., object], /, **parameters: object
    ) -> Job:
        """Start ``flow(**parameters)`` in a daemon thread; return its job at once.

        Args:
            title: What the job does, shown to the user.
            flow: A :class:`FlowRef` (resolved to its flow function in the job's thread, so
                the first submit does not pay for importing Prefect) or a callable.
            **parameters: The flow's parameters (a site name, never credentials).

        Raises:
            TypeError: ``flow`` is neither a :class:`FlowRef` nor callable.
        """
        if not isinstance(flow, FlowRef) and not callable(flow):
            raise TypeError(f"{flow!r} is not a flow")
        job = Job(title, site=str(parameters.get("site") or ""))
        with self._lock:
            self._jobs.append(job)
            self._flows[job.id] = flow
        on_pool = self._pool is not None and isinstance(flow, FlowRef) and flow in DEPLOYMENTS
        if not on_pool:
            self._backend.start()
        target = self._run_on_pool if on_pool else self._run
        self._thread(job, target, flow, parameters)
        return job

    def in_flight(self, flow: FlowRef | None = None) -> tuple[Job, ...]:
        """The jobs not yet done: this runner's, and with a pool every kernel's runs on it.

        Blocks for a few API calls with a pool: call it in the background (a panel's
        ``_call``). Runs of the pool come back as jobs followed from now on (the same job again
        on a second call), so a panel opened later, or after a kernel restart, shows them.

        Args:
            flow: Only the jobs of this flow.

        Raises:
            UserInputError: A pool is configured but no Prefect server (``PREFECT_API_URL``).
        """
        if self._pool is not None:
            for ref, run in in_flight_runs(self._pool):
                if flow is None or ref is flow:
                    self._adopt(ref, run)
        with self._lock:
            return tuple(
                job
                for job in self._jobs
                if not job.done and (flow is None or self._flows.get(job.id) is flow)
            )

    def flow_of(self, job: Job) -> FlowRef | Callable[..., object] | None:
        """The flow ``job`` runs (as submitted, or the deployment's); None for another's job."""
        with self._lock:
            return self._flows.get(job.id)

    def _adopt(self, flow: FlowRef, run: FlowRun) -> None:
        run_id = str(run.id)
        with self._lock:
            if any(job.flow_run_id == run_id for job in self._jobs):
                return
            job = job_for_run(run)
            self._jobs.append(job)
            self._flows[job.id] = flow
        self._thread(job, self._follow, flow, run.id)

    def _thread(self, job: Job, target: Callable[..., None], *args: object) -> None:
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run,
            args=(self._guarded, job, target, *args),
            name=f"denbi-job-{job.id[:8]}",
            daemon=True,
        )
        thread.start()

    @staticmethod
    def _guarded(job: Job, target: Callable[..., None], *args: object) -> None:
        try:
            target(job, *args)
        except DenbiError as exc:
            message, kind = describe_failure(exc)
            job._finish(error=message, error_type=kind)
        except BaseException as exc:  # noqa: BLE001 - a job thread never dies without an end state
            _log.exception("Job %s crashed", job.id)
            message, kind = describe_failure(exc)
            job._finish(error=message, error_type=kind)

    def _run_on_pool(self, job: Job, flow: FlowRef, parameters: Mapping[str, object]) -> None:
        assert self._pool is not None
        job._waiting(f"Starting a run on work pool {self._pool.name!r}")
        try:  # the lab's server extension may still be starting the server
            wait_for_api(api_url(), timeout_s=API_WAIT_S, stop=self._stop)
        except TimeoutError as exc:
            job._finish(error=str(exc), error_type="PrefectUnavailableError")
            return
        run = start_run(self._pool, job.title, flow, parameters)
        job._remote(flow_run_id=str(run.id))
        self._follow(job, flow, run.id)

    def _follow(self, job: Job, flow: FlowRef, run_id: UUID) -> None:
        assert self._pool is not None
        follow_run(job, self._pool, flow, run_id, stop=self._stop)

    def _run(
        self, job: Job, flow: FlowRef | Callable[..., object], parameters: Mapping[str, object]
    ) -> None:
        with self._slots:
            if not self._backend.ready:
                job._waiting("Starting the Prefect backend")
                self._backend.wait(BACKEND_WAIT_S)
            if self._backend.unreachable and self._backend.error is not None:
                job._finish(error=self._backend.error, error_type="PrefectUnavailableError")
                return
            job._set_running()
            with self._backend.settings():
                self._execute(job, resolve_flow(flow), parameters)

    @staticmethod
    def _execute(job: Job, flow: Callable[..., object], parameters: Mapping[str, object]) -> None:
        from prefect import Flow
        from prefect.client.schemas.objects import State

        flows = load_flows()
        flows.quiet_console()
        with flows.flow_settings(), flows.listen(job._on_event):
            if not isinstance(flow, Flow):  # a plain function: its return value is the result
                job._finish(result=flow(**parameters))
                return
            # A run the busy Prefect API refused to create is started again (nothing ran).
            state = start_while_busy(lambda: flow(**parameters, return_state=True))
        if not isinstance(state, State):
            job._finish(result=state)
            return
        flow_run_id = state.state_details.flow_run_id
        run_id = str(flow_run_id) if flow_run_id else None
        if state.is_completed():
            job._finish(result=state.result(), flow_run_id=run_id)
            return
        outcome = state.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            message, kind = describe_failure(outcome)
        else:
            message, kind = f"The flow ended {state.name}: {state.message}", "FlowRunError"
        job._finish(error=message, error_type=kind, flow_run_id=run_id)
