"""Flows that outlive the kernel: runs of deployments on a Prefect work pool, followed remotely.

With a work pool configured (``JobRunner(work_pool="denbi-process")``, or the environment
variable :data:`WORK_POOL_ENV`, ``DENBI_WORK_POOL``), :meth:`JobRunner.submit` starts a
:class:`~denbi_jupyter.jobs.FlowRef` that has a deployment (:data:`DEPLOYMENTS`, named like
its flow: ``create-snapshot/create-snapshot``, see ``prefect.yaml``) as a run of that
deployment (``run_deployment(..., timeout=0)``); a worker of the pool runs it. The kernel only
follows the run through the Prefect API, so closing the notebook or restarting the kernel
abandons nothing, and :meth:`JobRunner.in_flight` finds the runs still going from any kernel.

What a follower reads (see :mod:`flows._progress`):

* **state**: the flow run's state (Scheduled/Pending → PENDING, Running/Paused/Cancelling →
  RUNNING, Completed → COMPLETED, Failed/Crashed/Cancelled → FAILED), polled every
  :attr:`WorkPool.poll_s` seconds;
* **progress and message**: the run's progress artifact, which ``flows._progress.report``
  keeps up to date in runs of deployments;
* **logs**: the run's log lines from the API (the last ones may arrive up to
  :data:`LOG_SETTLE_S` after the job ended);
* **result**: results are not persisted (``persist_result=False``), so the flows' completion
  hook leaves an artifact with the frozen result's fields as JSON; the follower rebuilds the
  flow's typed result (``SnapshotResult``, ``BootResult``, ...) from it with pydantic, so a
  panel sees the same ``job.result`` as for an in-kernel run. A failure's sentence and error
  type travel the same way (else the state's message).

**Sites on the worker.** A kernel's clients (:func:`~denbi_jupyter.jobs.use_clients`) cannot
travel to a worker: a pool run opens its site by name from the *worker's* ``clouds.yaml``
(``OS_CLIENT_CONFIG_FILE`` in the worker's environment), so the worker must have an entry of
that name. Parameters are stored by Prefect: they hold a site name, never credentials.

A plain callable, or a FlowRef without a deployment, still runs in the kernel. A work pool needs
a Prefect server every process reaches (``PREFECT_API_URL``): Prefect's ephemeral API lives in
one process and no worker could see it, so a pool without ``PREFECT_API_URL`` fails the job with
a sentence saying so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from uuid import UUID

from denbi_jupyter.errors import UserInputError
from denbi_jupyter.jobs._busy import busy_answer, start_while_busy
from denbi_jupyter.jobs._flows import FlowRef
from denbi_jupyter.jobs._job import Job, JobState

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import Artifact, FlowRun

__all__ = [
    "DEPLOYMENTS",
    "HOOK_MARK",
    "LOG_SETTLE_S",
    "OUTCOME_DESCRIPTION",
    "TITLE_TAG",
    "WORK_POOL_ENV",
    "WorkPool",
    "api_url",
    "follow_run",
    "in_flight_runs",
    "job_for_run",
    "start_run",
    "typed_result",
]

_log = logging.getLogger(__name__)

#: The environment variable that names the work pool the panels' flows run on.
WORK_POOL_ENV = "DENBI_WORK_POOL"

#: The deployment (``<flow-name>/<deployment-name>``) of each flow a pool can run.
DEPLOYMENTS: Mapping[FlowRef, str] = MappingProxyType(
    {
        FlowRef.BOOT_SERVER: "boot-server/boot-server",
        FlowRef.CREATE_SNAPSHOT: "create-snapshot/create-snapshot",
        FlowRef.DELETE_SNAPSHOTS: "delete-snapshots/delete-snapshots",
        FlowRef.COPY_IMAGE: "copy-image/copy-image",
        FlowRef.STOP_SERVER: "stop-server/stop-server",
        FlowRef.START_SERVER: "start-server/start-server",
        FlowRef.REBOOT_SERVER: "reboot-server/reboot-server",
        FlowRef.DELETE_SERVER: "delete-server/delete-server",
        FlowRef.CLEANUP_SNAPSHOTS: "cleanup-snapshots/cleanup-snapshots",
    }
)

#: Mirror ``flows._progress.OUTCOME_DESCRIPTION`` and ``HOOK_MARK`` (no ``flows`` import here).
OUTCOME_DESCRIPTION = "denbi-jupyter outcome"
HOOK_MARK = "'publish_outcome'"
#: A run's tag that carries the job's title (so a later kernel shows the same title).
TITLE_TAG = "denbi-title:"
_MAX_TITLE = 200
_ACTIVE_STATES = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING")
_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)
_LOG_PAGE = 200
#: How long after a run's end its last log lines are still collected (Prefect sends a run's
#: logs to the API in batches, every 2 s by default).
LOG_SETTLE_S = 3.0


@dataclass(frozen=True, slots=True)
class WorkPool:
    """Where the panels' flows run when not in the kernel.

    Attributes:
        name: The Prefect work pool the deployments are on (``prefect.yaml``: denbi-process).
        poll_s: Seconds between two looks at a followed run.
        outcome_wait_s: How long a completed run's outcome artifact is waited for (the
            flow's completion hook writes it right after the state changed).
    """

    name: str
    poll_s: float = 1.0
    outcome_wait_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise UserInputError("The work pool name is empty: name a Prefect work pool.")
        if self.poll_s <= 0 or self.outcome_wait_s < 0:
            raise UserInputError("poll_s must be more than 0 and outcome_wait_s at least 0.")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> WorkPool | None:
        """The pool :data:`WORK_POOL_ENV` names, or None when it is unset or empty."""
        name = (os.environ if environ is None else environ).get(WORK_POOL_ENV, "").strip()
        return cls(name) if name else None


def api_url() -> str:
    """``PREFECT_API_URL``; a pool cannot work without it.

    Raises:
        UserInputError: It is not set (the message says what to do).
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise UserInputError(
            "Running flows on a work pool needs a Prefect server that the workers reach too: "
            "set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api), or unset DENBI_WORK_POOL "
            "to run flows in this kernel."
        )
    return str(url)


def _title_tag(title: str) -> str:
    return TITLE_TAG + " ".join(title.split())[:_MAX_TITLE]


def _title_of(run: FlowRun) -> str:
    for tag in run.tags:
        if tag.startswith(TITLE_TAG):
            return tag[len(TITLE_TAG) :]
    return run.name


def start_run(
    pool: WorkPool, title: str, flow: FlowRef, parameters: Mapping[str, object]
) -> FlowRun:
    """Create a run of ``flow``'s deployment on ``pool``; returns once it is scheduled.

    Raises:
        UserInputError: No Prefect server configured, the deployment is missing, or it is on
            another work pool (each message says what to run).
    """
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    api = api_url()
    name = DEPLOYMENTS[flow]
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound as exc:
            raise UserInputError(
                f"The Prefect server at {api} has no deployment {name!r}: run "
                "'prefect deploy --all' in the denbi-jupyter project folder, then try again."
            ) from exc
    if deployment.work_pool_name != pool.name:
        raise UserInputError(
            f"The deployment {name!r} runs on work pool {deployment.work_pool_name!r}, not on "
            f"{pool.name!r} ({WORK_POOL_ENV}): deploy it to {pool.name!r} or set "
            f"{WORK_POOL_ENV}={deployment.work_pool_name}."
        )
    key = uuid.uuid4().hex  # a retried create returns the run the first one made, if any

    def create() -> FlowRun:
        run = run_deployment(
            name=name,
            parameters=dict(parameters),
            timeout=0,
            tags=["denbi-jupyter", _title_tag(title)],
            as_subflow=False,
            idempotency_key=key,
        )
        return typing.cast("FlowRun", run)  # called from a thread: the sync variant ran

    # Any 503 may be retried: the idempotency key makes a second create return the first run.
    # A start keeps its slot while it backs off, so a busy server gets fewer creates at once.
    with _STARTS:
        return start_while_busy(create, retryable=busy_answer, what=f"a run of {name!r}")


#: Runs created at once on the Prefect server (its SQLite answers 503 to a burst of creates).
_STARTS = threading.BoundedSemaphore(2)


def in_flight_runs(pool: WorkPool) -> list[tuple[FlowRef, FlowRun]]:
    """The runs of :data:`DEPLOYMENTS` on ``pool`` that have not ended, oldest first.

    Scheduled runs count only once due (a schedule's future runs are not "in flight").
    """
    import datetime as dt

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    api_url()
    due: Any = dt.datetime.now(dt.UTC)  # Prefect's filter is typed for its own DateTime
    by_name = {name.partition("/")[2]: flow for flow, name in DEPLOYMENTS.items()}
    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=list(by_name))),
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool.name])),
        )
        flow_of = {d.id: by_name[d.name] for d in deployments}
        if not flow_of:
            return []
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=list(flow_of)),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType(s) for s in _ACTIVE_STATES])
                ),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=due),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        )
    return [(flow_of[run.deployment_id], run) for run in runs if run.deployment_id in flow_of]


def job_for_run(run: FlowRun) -> Job:
    """A new job standing for ``run`` (its title from the run's title tag, its site from the
    run's parameters)."""
    job = Job(_title_of(run), site=str((run.parameters or {}).get("site") or ""))
    job._remote(flow_run_id=str(run.id))
    return job


def _job_state(run: FlowRun) -> JobState:
    if run.state is None:
        return JobState.PENDING
    kind = run.state.type.value
    if kind in ("SCHEDULED", "PENDING"):
        return JobState.PENDING
    if kind == "COMPLETED":
        return JobState.COMPLETED
    if kind in ("FAILED", "CRASHED", "CANCELLED"):
        return JobState.FAILED
    return JobState.RUNNING


def _run_artifacts(
    client: SyncPrefectClient, run_id: UUID, kind: str, *, limit: int | None = None
) -> list[Artifact]:
    """The artifacts of type ``kind`` (``progress``, ``markdown``) of the flow run ``run_id``."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )

    return client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
            type=ArtifactFilterType(any_=[kind]),
        ),
        limit=limit,
    )


def _progress(client: SyncPrefectClient, run_id: UUID) -> tuple[float | None, str | None]:
    found = _run_artifacts(client, run_id, "progress", limit=1)
    if not found or not isinstance(found[0].data, int | float):
        return None, None
    return min(1.0, max(0.0, float(found[0].data) / 100)), found[0].description


def _outcome(client: SyncPrefectClient, run_id: UUID) -> dict[str, Any] | None:
    for artifact in _run_artifacts(client, run_id, "markdown"):
        if artifact.description != OUTCOME_DESCRIPTION or not isinstance(artifact.data, str):
            continue
        block = _JSON_BLOCK.search(artifact.data)
        if block is not None:
            outcome: dict[str, Any] = json.loads(block.group(1))
            return outcome
    return None


def _new_logs(client: SyncPrefectClient, run_id: UUID, seen: int) -> tuple[int, list[str]]:
    """How many log records came after the first ``seen``, and their lines to show."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
        limit=_LOG_PAGE,
        offset=seen,
    )
    lines = [
        f"{log.timestamp.strftime('%H:%M:%S')} {logging.getLevelName(log.level)} {log.message}"
        for log in logs
        if HOOK_MARK not in log.message  # the engine's lines about our outcome hook
    ]
    return len(logs), lines


def typed_result(flow: FlowRef, fields: object) -> object:
    """Rebuild ``flow``'s typed result (its return annotation) from its JSON fields.

    The result types name some field types only for type checkers (``BootResult.connection``
    is a ``ConnectionDetails``); pydantic is given those names explicitly.
    """
    from pydantic import TypeAdapter

    from denbi_jupyter.connect.details import ConnectionDetails

    if fields is None:
        return None
    function = flow.resolve()
    annotation = typing.get_type_hints(getattr(function, "fn", function)).get("return")
    if annotation is None:
        return fields
    adapter: TypeAdapter[object] = TypeAdapter(annotation)
    adapter.rebuild(_types_namespace={"ConnectionDetails": ConnectionDetails})
    return adapter.validate_python(fields)


def _finish(job: Job, flow: FlowRef, run: FlowRun, outcome: dict[str, Any] | None) -> None:
    run_id = str(run.id)
    if _job_state(run) is JobState.COMPLETED:
        result = typed_result(flow, outcome.get("result")) if outcome else None
        job._finish(result=result, flow_run_id=run_id)
        return
    if outcome and outcome.get("error"):
        error, kind = str(outcome["error"]), str(outcome.get("error_type") or "FlowRunError")
    else:
        state = run.state
        name = state.name if state is not None else "without a state"
        detail = f": {state.message}" if state is not None and state.message else ""
        error, kind = f"The run on the work pool ended {name}{detail}", "FlowRunError"
    job._finish(error=error, error_type=kind, flow_run_id=run_id)


def follow_run(
    job: Job, pool: WorkPool, flow: FlowRef, run_id: UUID, *, stop: threading.Event
) -> None:
    """Keep ``job`` in step with flow run ``run_id`` until the run ends (or ``stop`` is set)."""
    from prefect.client.orchestration import get_client

    seen_logs = 0
    with get_client(sync_client=True) as client:
        while not stop.is_set():
            run = client.read_flow_run(run_id)
            state = _job_state(run)
            count, lines = _new_logs(client, run_id, seen_logs)
            seen_logs += count
            fraction, message = _progress(client, run_id)
            if state is JobState.PENDING:
                message = f"Waiting for a worker of work pool {pool.name!r}"
            job._remote(state=state, progress=fraction, message=message, logs=lines)
            if state in (JobState.COMPLETED, JobState.FAILED):
                hooked = run.state is not None and run.state.type.value in ("COMPLETED", "FAILED")
                wait = pool.outcome_wait_s if hooked else 0.0  # a crash runs no hook
                _finish(job, flow, run, _await_outcome(client, run.id, wait, pool.poll_s, stop))
                _trailing_logs(client, job, run_id, seen_logs, pool.poll_s, stop)
                return
            stop.wait(pool.poll_s)


def _trailing_logs(
    client: SyncPrefectClient,
    job: Job,
    run_id: UUID,
    seen: int,
    poll_s: float,
    stop: threading.Event,
) -> None:
    """Add the log lines that reach the API after the run ended (Prefect sends them in batches)."""
    deadline = time.monotonic() + LOG_SETTLE_S
    while not stop.wait(min(poll_s, 0.5)):
        count, lines = _new_logs(client, run_id, seen)
        seen += count
        job._remote(logs=lines)
        if time.monotonic() >= deadline:
            return


def _await_outcome(
    client: SyncPrefectClient, run_id: UUID, wait_s: float, poll_s: float, stop: threading.Event
) -> dict[str, Any] | None:
    """The outcome artifact; the flow's hook writes it just after the final state."""
    deadline = time.monotonic() + wait_s
    while True:
        outcome = _outcome(client, run_id)
        if outcome is not None or time.monotonic() >= deadline:
            return outcome
        if stop.wait(min(poll_s, 0.25)):
            return None
