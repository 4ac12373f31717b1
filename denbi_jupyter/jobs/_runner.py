"""Run flows in daemon threads from a kernel, several at once, without blocking it."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Mapping

from denbi_jupyter.errors import DenbiError
from denbi_jupyter.jobs._backend import API_WAIT_S, Backend
from denbi_jupyter.jobs._flows import FlowRef, load_flows, resolve_flow
from denbi_jupyter.jobs._job import Job

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
    """Runs flows in daemon threads; several at once; never blocks the caller.

    Each job runs in a copy of the caller's context taken at :meth:`submit` (so Prefect
    settings and :func:`flows.use_clients` reach it), with heartbeats off and the progress
    channel wired to the job.

    Args:
        max_parallel: Flows running at once; further jobs stay PENDING until a slot frees.
    """

    def __init__(self, *, max_parallel: int = 4) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, not {max_parallel}")
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._backend = Backend()
        self._lock = threading.Lock()
        self._jobs: list[Job] = []

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
        job = Job(title)
        with self._lock:
            self._jobs.append(job)
        self._backend.start()
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run,
            args=(self._run, job, flow, parameters),
            name=f"denbi-job-{job.id[:8]}",
            daemon=True,
        )
        thread.start()
        return job

    def _run(
        self, job: Job, flow: FlowRef | Callable[..., object], parameters: Mapping[str, object]
    ) -> None:
        try:
            with self._slots:
                if not self._backend.ready:
                    job._waiting("Starting the Prefect backend")
                    self._backend.wait(BACKEND_WAIT_S)
                if self._backend.unreachable and self._backend.error is not None:
                    job._finish(error=self._backend.error, error_type="PrefectUnavailableError")
                    return
                job._set_running()
                self._execute(job, resolve_flow(flow), parameters)
        except DenbiError as exc:
            message, kind = describe_failure(exc)
            job._finish(error=message, error_type=kind)
        except BaseException as exc:  # noqa: BLE001 - a job thread never dies without an end state
            _log.exception("Job %s crashed", job.id)
            message, kind = describe_failure(exc)
            job._finish(error=message, error_type=kind)

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
            state = flow(**parameters, return_state=True)
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
