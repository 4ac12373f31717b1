"""The progress channel: how a running flow tells its in-process watchers how far it is.

A flow calls :func:`report` with a fraction and a status line. The line goes to the run logger
(so the Prefect UI and any log reader see it) and, as a :class:`FlowEvent`, to every listener
registered with :func:`listen` in the calling context. The run logger's other lines (ours and
Prefect's engine lines) reach the same listeners as ``log`` events through a logging handler.

Listeners live in a :class:`contextvars.ContextVar`, not in a module-level registry: a job
thread enters ``with listen(job.handle):`` and runs the flow; Prefect runs tasks in the same
context or in a copy of it (its thread pool copies the context), so every event of that flow
run reaches exactly that job, and two flows running at once in two threads never mix.

A flow run of a deployment (on a worker) has no listener in the kernel that follows it, so
there :func:`report` also keeps one Prefect *progress artifact* of the run up to date (percent
done; the status line as its description), and the hook :func:`publish_outcome` (the flows'
``on_completion`` and ``on_failure``) leaves one Markdown artifact (description
:data:`OUTCOME_DESCRIPTION`) whose fenced JSON block holds the typed result's fields
(``{"result": {...}}``, the frozen result dataclass's fields made JSON by pydantic) or the
failure (``{"error": "...", "error_type": "..."}``). Results are not persisted
(``persist_result=False``); this is what a follower in another process reads
(:mod:`denbi_jupyter.jobs._deployments`). Runs outside a deployment (a kernel, the CLI, a test)
make no artifact and no extra API call.

A listener (or an artifact write) that raises is logged and skipped; it never breaks the flow.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

if TYPE_CHECKING:
    from uuid import UUID

    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun, State

__all__ = [
    "HOOK_MARK",
    "OUTCOME_DESCRIPTION",
    "FlowEvent",
    "Listener",
    "current_flow_run_id",
    "job_flow",
    "listen",
    "publish_outcome",
    "report",
    "run_logger",
]

_log = logging.getLogger(__name__)

EventKind = Literal["progress", "log"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """One thing a running flow tells its listeners.

    Attributes:
        kind: ``progress`` for :func:`report`, ``log`` for a run-logger line.
        message: The status or log line (never a secret: flows hold none).
        fraction: 0.0..1.0 for progress events, None when indeterminate or for logs.
        level: The logging level of a log line (INFO for progress).
        flow_run_id: The Prefect flow run the event belongs to, when known.
    """

    kind: EventKind
    message: str
    fraction: float | None = None
    level: int = logging.INFO
    flow_run_id: str | None = None


Listener = Callable[[FlowEvent], None]

#: The description of the artifact :func:`publish_outcome` leaves on a deployment's run.
OUTCOME_DESCRIPTION = "denbi-jupyter outcome"
#: What the engine's log lines about running :func:`publish_outcome` contain.
HOOK_MARK = "'publish_outcome'"

_LISTENERS: ContextVar[tuple[Listener, ...]] = ContextVar("denbi_flow_listeners", default=())
_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class _ForwardHandler(logging.Handler):
    """Sends run-logger records to the listeners of the context that logged them."""

    def emit(self, record: logging.LogRecord) -> None:
        listeners = _LISTENERS.get()
        if not listeners:
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break the flow
            message = str(record.msg)
        if HOOK_MARK in message:  # the engine's lines about our own outcome hook: noise here
            return
        flow_run_id = getattr(record, "flow_run_id", None)
        event = FlowEvent(
            kind="log",
            message=message,
            level=record.levelno,
            flow_run_id=str(flow_run_id) if flow_run_id else None,
        )
        _notify(listeners, event)


def _install_forwarding() -> None:
    """Attach the forwarding handler to Prefect's run loggers (idempotent).

    Prefect's logging set-up (``dictConfig``) replaces the handlers of these loggers, so it
    runs first.
    """
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    for name in _RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, _ForwardHandler) for handler in logger.handlers):
            logger.addHandler(_ForwardHandler(level=logging.DEBUG))


def _notify(listeners: tuple[Listener, ...], event: FlowEvent) -> None:
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - a listener (a widget) must never stop the flow
            _log.exception("A flow progress listener failed; the flow goes on")


@contextlib.contextmanager
def listen(listener: Listener) -> Iterator[None]:
    """Send the events of flows run inside this block (in this context) to ``listener``."""
    _install_forwarding()
    token = _LISTENERS.set((*_LISTENERS.get(), listener))
    try:
        yield
    finally:
        _LISTENERS.reset(token)


def current_flow_run_id() -> str | None:
    """The id of the flow run this code runs in, or None outside a flow run."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    return str(context.flow_run.id)


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The Prefect run logger inside a run; this module's logger outside one (``.fn()``)."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return _log


def report(fraction: float | None, message: str) -> None:
    """Tell the listeners (and the run log) how far the flow is.

    Args:
        fraction: Share done, 0.0..1.0 (clamped); None when it cannot be told.
        message: A short status line, e.g. ``Nova: image_uploading``.
    """
    if fraction is not None:
        fraction = min(1.0, max(0.0, fraction))
    shown = message if fraction is None else f"{message} ({fraction:.0%})"
    run_logger().info(shown)
    run_id = _deployment_run_id()
    if run_id is not None:
        _publish_progress(run_id, fraction, message)
    listeners = _LISTENERS.get()
    if listeners:
        event = FlowEvent(
            kind="progress",
            message=message,
            fraction=fraction,
            flow_run_id=current_flow_run_id(),
        )
        _notify(listeners, event)


def _deployment_run_id() -> UUID | None:
    """The id of the flow run this code runs in when that run belongs to a deployment."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow_run.deployment_id is None:
        return None
    return context.flow_run.id


def _publish_progress(run_id: UUID, fraction: float | None, message: str) -> None:
    """Create or update the run's progress artifact (an indeterminate step keeps the percent)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )

    percent = None if fraction is None else round(100 * fraction, 1)
    try:
        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
                    type=ArtifactFilterType(any_=["progress"]),
                ),
                limit=1,
            )
            if found:
                data = found[0].data if percent is None else percent
                client.update_artifact(found[0].id, ArtifactUpdate(data=data, description=message))
                return
            create = ArtifactCreate(
                type="progress", data=percent or 0.0, description=message, flow_run_id=run_id
            )
            client.create_artifact(create)
    except Exception as exc:  # noqa: BLE001 - progress for followers must never stop the flow
        _log.warning("Could not publish the progress of flow run %s: %s", run_id, exc)


def _failure(error: BaseException) -> dict[str, str]:
    from denbi_jupyter.errors import DenbiError

    kind = type(error).__name__
    if isinstance(error, DenbiError):
        return {"error": str(error), "error_type": kind}
    text = str(error).strip() or "no details"
    return {"error": f"The flow failed unexpectedly ({kind}): {text}", "error_type": kind}


def _outcome(state: State[Any]) -> dict[str, Any]:
    from pydantic_core import to_jsonable_python

    value = state.result(raise_on_failure=False)
    if not state.is_completed():
        if isinstance(value, BaseException):
            return _failure(value)
        return {
            "error": f"The flow ended {state.name}: {state.message}",
            "error_type": "FlowRunError",
        }
    if value is None:
        return {"result": None}
    return {"result": to_jsonable_python(value)}  # a frozen dataclass: its fields, as JSON


def publish_outcome(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Completion and failure hook: leave the run's outcome as an artifact (deployments only).

    Attach it with ``@flow(on_completion=[publish_outcome], on_failure=[publish_outcome])``,
    or declare the flow with :func:`job_flow`.
    """
    if flow_run.deployment_id is None:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    try:
        payload = json.dumps(_outcome(state), indent=2, sort_keys=True)
        markdown = f"**{flow.name}**: {state.name}\n\n```json\n{payload}\n```\n"
        with get_client(sync_client=True) as client:
            client.create_artifact(
                ArtifactCreate(
                    type="markdown",
                    data=markdown,
                    description=OUTCOME_DESCRIPTION,
                    flow_run_id=flow_run.id,
                )
            )
    except Exception as exc:  # noqa: BLE001 - the run's own state stays what it is
        _log.warning("Could not publish the outcome of flow run %s: %s", flow_run.id, exc)


def job_flow(name: str, run_name: str) -> Callable[[Callable[P, R]], Flow[P, R]]:
    """``@flow`` of a flow that runs as a job, named ``name``, its runs named ``run_name``.

    Its result is not persisted, and :func:`publish_outcome` runs on completion and on
    failure.
    """
    from prefect import flow

    return flow(
        name=name,
        flow_run_name=run_name,
        persist_result=False,
        on_completion=[publish_outcome],
        on_failure=[publish_outcome],
    )
